//! One-call tests (feature `testing`): a service built with its own `build` function,
//! on port 0, against a fresh database cloned from a migrated template
//! ([`fresh_database`]).
//!
//! ```ignore
//! let app = kit::testing::spawn(&MIGRATOR, |_| {}, notes::build).await;
//! let response = client.get(app.url("/notes")).bearer_auth(app.token("notes:read"))...
//! ```
//!
//! [`spawn`] serves from the test's own runtime (the server ends with the test);
//! [`spawn_on_own_thread`] serves from a thread of its own, for an app that a whole test
//! binary shares (a server spawned on one test's runtime would die with that test).

use std::sync::mpsc;
use std::time::Duration;

use figment::Figment;
use figment::providers::Serialized;
use sqlx::migrate::Migrator;

use crate::app::Running;
use crate::config::{Environment, ServiceSettings};

pub use crate::db::testing::fresh_database;

/// The HS256 secret of test apps (an `adjust` may set another).
pub const JWT_SECRET: &str = "kit-testing-secret-0123456789abcdef-0123";

/// A service under test.
#[derive(Debug, Clone)]
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub port: u16,
    /// The test's own database.
    pub database_url: String,
    /// The HS256 secret the app verifies tokens with (`None` without `[auth]`).
    pub jwt_secret: Option<String>,
}

impl TestApp {
    /// The absolute URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// A bearer token with `scopes` (space-separated), valid for ten minutes.
    #[cfg(feature = "jwt")]
    pub fn token(&self, scopes: &str) -> String {
        let settings = crate::config::AuthSettings {
            jwt_secret: self.jwt_secret.as_deref().map(Into::into),
            ..Default::default()
        };
        crate::auth::JwtVerifier::from_settings(&settings, Environment::Test)
            .and_then(|verifier| verifier.mint("test", scopes, Duration::from_secs(600)))
            .expect("the test app has an HS256 secret to mint with")
    }
}

/// The service's defaults for a test: port 0, two workers, `database_url`, and
/// [`JWT_SECRET`] when the service has `[auth]`.
pub fn test_settings<S: ServiceSettings>(database_url: &str) -> S {
    let mut figment = Figment::from(Serialized::defaults(S::default()))
        .merge(Serialized::default("server.port", 0))
        .merge(Serialized::default("server.workers", 2))
        .merge(Serialized::default("database.url", database_url));
    if S::default().auth().is_some() {
        figment = figment.merge(Serialized::default("auth.jwt_secret", JWT_SECRET));
    }
    figment
        .extract()
        .expect("the service's defaults with a port, workers, a URL and a secret are valid")
}

/// Builds the service on a fresh database and serves it from this test's runtime.
/// `adjust` changes the test settings before `build` sees them.
pub async fn spawn<S, F>(
    migrator: &'static Migrator,
    adjust: impl FnOnce(&mut S),
    build: F,
) -> TestApp
where
    S: ServiceSettings,
    F: AsyncFnOnce(&S, Environment) -> anyhow::Result<Running>,
{
    spawn_on(&fresh_database(migrator).await, adjust, build).await
}

/// Like [`spawn`], against `database_url` (a database the test shares between apps, or
/// reaches through a proxy).
pub async fn spawn_on<S, F>(database_url: &str, adjust: impl FnOnce(&mut S), build: F) -> TestApp
where
    S: ServiceSettings,
    F: AsyncFnOnce(&S, Environment) -> anyhow::Result<Running>,
{
    let (app, running) = start(database_url.to_owned(), adjust, build).await;
    tokio::spawn(running.run_until_stopped());
    app
}

/// Like [`spawn`], but serving from a thread and runtime of its own that outlive the
/// calling test (the app stays up for the whole test binary).
pub fn spawn_on_own_thread<S, F>(
    migrator: &'static Migrator,
    adjust: impl FnOnce(&mut S) + Send + 'static,
    build: F,
) -> TestApp
where
    S: ServiceSettings,
    F: AsyncFnOnce(&S, Environment) -> anyhow::Result<Running> + Send + 'static,
{
    let (app_tx, app_rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("kit-test-app".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("a runtime for the test app");
            runtime.block_on(async move {
                let database_url = fresh_database(migrator).await;
                let (app, running) = start(database_url, adjust, build).await;
                let _ = app_tx.send(app);
                let _ = running.run_until_stopped().await;
            });
        })
        .expect("spawning the test app's thread");
    app_rx
        .recv()
        .expect("the test app's thread reports the app (it panicked while building it)")
}

async fn start<S, F>(
    database_url: String,
    adjust: impl FnOnce(&mut S),
    build: F,
) -> (TestApp, Running)
where
    S: ServiceSettings,
    F: AsyncFnOnce(&S, Environment) -> anyhow::Result<Running>,
{
    let mut settings: S = test_settings(&database_url);
    adjust(&mut settings);
    let running = build(&settings, Environment::Test)
        .await
        .unwrap_or_else(|error| panic!("the test app builds: {error:#}"));
    let port = running.port();
    let app = TestApp {
        base_url: format!("http://127.0.0.1:{port}"),
        port,
        database_url,
        jwt_secret: settings
            .auth()
            .and_then(|auth| auth.jwt_secret.as_ref())
            .map(|secret| secret.expose().to_owned()),
    };
    (app, running)
}
