//! The Rust app the contract suite runs against (`contract_rust.rs`), built in-process
//! on a fresh database of the embedded PostgreSQL. The runs against the Node baseline
//! and across implementations live with the suite (`tests/contract/tests/`), so that
//! this crate's tests need no Node.js.
#![allow(dead_code)]

use std::sync::OnceLock;
use std::sync::mpsc;

use contract_suite::Target;
use kit::config::Environment;
use kit::db::testing::fresh_database;
use user_service::settings::Settings;
use user_service::startup::Application;
use user_service::store::MIGRATOR;

pub const JWT_SECRET: &str = "contract-suite-secret-0123456789abcdef";

/// The Rust service, started once, serving from its own thread and runtime (a server
/// spawned on one test's runtime would die with that test).
pub async fn rust_target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("contract-rust-app".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("a runtime for the Rust app");
                runtime.block_on(async move {
                    let url = fresh_database(&MIGRATOR).await;
                    let mut settings = Settings::default();
                    settings.server.port = 0;
                    settings.server.workers = 2;
                    settings.database.url = Some(url);
                    settings.auth.jwt_secret = Some(JWT_SECRET.into());
                    let application = match Application::build(&settings, Environment::Test).await {
                        Ok(application) => application,
                        Err(error) => {
                            let _ = port_tx.send(Err(format!("{error:#}")));
                            return;
                        }
                    };
                    let _ = port_tx.send(Ok(application.port()));
                    let _ = application.run_until_stopped().await;
                });
            })
            .expect("spawning the Rust app thread");
        let port = port_rx
            .recv()
            .expect("the Rust app thread reports its port")
            .unwrap_or_else(|error| panic!("building the Rust app failed: {error}"));
        Target {
            name: "rust".into(),
            base_url: format!("http://127.0.0.1:{port}"),
            jwt_secret: JWT_SECRET.into(),
        }
    })
}
