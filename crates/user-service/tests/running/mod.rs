//! The real `user-service` binary as a child process, for tests that need real signals,
//! real exits and a real PostgreSQL going away underneath.
#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const JWT_SECRET: &str = "lifecycle-test-secret";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `user-service` subcommand with the test's environment: no inherited database or
/// secret settings, the repo's config directory, logs to a file.
pub fn command(cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_user-service"));
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("APP_CONFIG_DIR", repo_root().join("config"))
        .env("APP_LOG__FORMAT", "json")
        .env("APP_ENV", "test");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// A running service; killed if the test ends without stopping it.
pub struct RunningService {
    child: Child,
    pub port: u16,
    pub log: PathBuf,
}

impl RunningService {
    /// Starts `user-service serve` and waits until it answers `/health/live`.
    pub async fn start(cwd: &Path, env: &[(&str, String)]) -> RunningService {
        let port = pg_embedded::free_port().expect("the loopback interface has free ports");
        let log = cwd.join(format!("service-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("the test directory is writable");
        let mut env = env.to_vec();
        env.push(("PORT", port.to_string()));
        let child = command(cwd, &["serve"], &env)
            .stdout(log_file.try_clone().expect("duplicating a file handle"))
            .stderr(log_file)
            .stdin(Stdio::null())
            .spawn()
            .expect("the user-service binary starts");
        let mut service = RunningService { child, port, log };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if let Ok(response) = client.get(service.url("/health/live")).send().await
                && response.status() == 200
            {
                return service;
            }
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!(
                    "the service exited during start-up ({status}):\n{}",
                    service.logs()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the service did not start:\n{}",
                service.logs()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The exit status, if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(i32::try_from(self.child.id()).expect("pids fit in i32"));
        kill(pid, signal).expect("the service process exists");
    }

    /// Waits for the process to exit; panics after `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting on the child") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not exit within {within:?}:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A token for the test secret.
pub fn token(scope: &str) -> String {
    let settings = kit::config::AuthSettings {
        jwt_secret: Some(JWT_SECRET.into()),
        ..Default::default()
    };
    kit::auth::JwtVerifier::from_settings(&settings, kit::config::Environment::Test)
        .and_then(|verifier| verifier.mint("test", scope, Duration::from_secs(600)))
        .expect("HS256 tokens can be minted with a secret")
}

/// The app built in-process on port 0 against `database_url`, served from this test's
/// runtime; `adjust` changes settings first. Returns the base URL.
pub async fn spawn_app(
    database_url: &str,
    adjust: impl FnOnce(&mut user_service::settings::Settings),
) -> String {
    let mut settings = user_service::settings::Settings::default();
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.database.url = Some(database_url.to_owned());
    settings.auth.jwt_secret = Some(JWT_SECRET.into());
    adjust(&mut settings);
    let application =
        user_service::startup::Application::build(&settings, kit::config::Environment::Test)
            .await
            .expect("the app builds");
    let base = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    base
}
