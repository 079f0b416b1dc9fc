//! The implementations the contract suite runs against, one of each per test binary:
//! the Rust app built in-process, and the Node baseline as a real process, each on its
//! own fresh database of the same embedded PostgreSQL.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use contract_suite::Target;
use kit::db::testing::fresh_database;
use pg_embedded::{Readiness, http_status, tail, wait_ready};
use user_service::settings::Settings;
use user_service::store::MIGRATOR;

pub const JWT_SECRET: &str = "contract-suite-secret-0123456789abcdef";

/// The Rust service, started once (`kit::testing`), serving from its own thread and
/// runtime (a server spawned on one test's runtime would die with that test).
pub async fn rust_target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let app = kit::testing::spawn_on_own_thread(
            &MIGRATOR,
            |settings: &mut Settings| settings.auth.jwt_secret = Some(JWT_SECRET.into()),
            user_service::startup::build,
        );
        Target {
            name: "rust".into(),
            base_url: app.base_url,
            jwt_secret: JWT_SECRET.into(),
        }
    })
}

fn node_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../baselines/node")
}

/// The Node baseline, started once as `node src/main.js` (2 cluster workers).
pub async fn node_target() -> &'static Target {
    static TARGET: OnceLock<Result<Target, String>> = OnceLock::new();
    let started = TARGET.get_or_init(|| {
        std::thread::spawn(start_node)
            .join()
            .unwrap_or_else(|_| Err("starting the Node baseline panicked".into()))
    });
    match started {
        Ok(target) => target,
        Err(error) => panic!("{error}"),
    }
}

fn start_node() -> Result<Target, String> {
    let dir = node_dir();
    if !dir.join("node_modules").is_dir() {
        return Err(format!(
            "the Node baseline has no node_modules: run `npm ci` in baselines/node ({})",
            dir.display()
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    let url = runtime.block_on(fresh_database(&MIGRATOR));
    drop(runtime);
    let port = pg_embedded::free_port().map_err(|error| error.to_string())?;
    let log_path =
        std::env::temp_dir().join(format!("contract-node-{}-{port}.log", std::process::id()));
    let log = std::fs::File::create(&log_path).map_err(|error| error.to_string())?;
    let log_err = log.try_clone().map_err(|error| error.to_string())?;
    let mut command = Command::new("node");
    command
        .arg(dir.join("src/main.js"))
        .current_dir(&dir)
        .env("DATABASE_URL", &url)
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("JWT_SECRET", JWT_SECRET)
        .env("WORKERS", "2")
        .env("DB_POOL_SIZE", "10")
        .env("LOG_LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    // SIGTERM lets the primary stop its workers when this test process goes away.
    let mut child = pg_embedded::spawn_tied(command, nix::sys::signal::Signal::SIGTERM)
        .map_err(|error| format!("starting `node` (is Node.js 20+ on the PATH?): {error}"))?;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let readiness = wait_ready(
        Some(&mut child),
        Instant::now(),
        Duration::from_secs(30),
        Duration::from_millis(100),
        || http_status(address, "/health/ready") == Some(200),
    )
    .map_err(|error| format!("waiting for the Node baseline: {error}"))?;
    let failure = match readiness {
        Readiness::Ready(_) => None,
        Readiness::Exited(status) => Some(format!("exited at start ({status})")),
        Readiness::TimedOut => Some("was not ready within 30 s".to_string()),
    };
    if let Some(failure) = failure {
        return Err(format!(
            "the Node baseline {failure}; the end of its log ({}):\n{}",
            log_path.display(),
            tail(&log_path, 40)
        ));
    }
    static CHILD: Mutex<Option<Child>> = Mutex::new(None);
    *CHILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(child);
    Ok(Target {
        name: "node".into(),
        base_url: format!("http://127.0.0.1:{port}"),
        jwt_secret: JWT_SECRET.into(),
    })
}
