//! The real `user-service` binary as a child process, for tests that need real signals,
//! real exits and a real PostgreSQL going away underneath.
#![allow(dead_code)] // each test file uses a different part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub const JWT_SECRET: &str = "lifecycle-test-secret-0123456789abcdef";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A `user-service` subcommand with the test's environment: no inherited database or
/// secret settings, the repo's config directory, logs to a file. `USER_SERVICE_BIN`
/// runs another build of the binary (an older one, to see a test fail before a fix),
/// with `USER_SERVICE_CONFIG_DIR` as its config directory when set.
pub fn command(cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
    let binary = std::env::var_os("USER_SERVICE_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_user-service").into());
    let mut command = Command::new(binary);
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env(
            "APP_CONFIG_DIR",
            std::env::var_os("USER_SERVICE_CONFIG_DIR")
                .unwrap_or_else(|| repo_root().join("config").into()),
        )
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

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the service process.
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_of(self.child.id())
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

/// Resident memory of process `pid`, from `/proc`.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
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

/// The app built in-process on port 0 against `database_url` (`kit::testing`), served
/// from this test's runtime; `adjust` changes settings first. Returns the base URL.
pub async fn spawn_app(
    database_url: &str,
    adjust: impl FnOnce(&mut user_service::settings::Settings),
) -> String {
    let with_secret = |settings: &mut user_service::settings::Settings| {
        settings.auth.jwt_secret = Some(JWT_SECRET.into());
        adjust(settings);
    };
    kit::testing::spawn_on(database_url, with_secret, user_service::startup::build)
        .await
        .base_url
}

/// Creates a user with a unique email at `base`; returns its id.
pub async fn create_user_at(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .post(format!("{base}/users"))
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "email": format!("{}@example.com", uuid::Uuid::new_v4()) }))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), 201, "creating a user");
    let body: serde_json::Value = response.json().await.expect("a JSON user");
    body["id"].as_str().expect("the user has an id").to_owned()
}

/// Creates a user with a unique email on a running service; returns its id.
pub async fn create_user(client: &reqwest::Client, service: &RunningService) -> String {
    create_user_at(client, service.url("").trim_end_matches('/')).await
}
