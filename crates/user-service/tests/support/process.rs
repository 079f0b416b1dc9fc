//! The real `user-service` binary as a child process, for tests that need real signals,
//! real exits and a real PostgreSQL going away underneath. Included by path, beside
//! `users.rs`, by `lifecycle/running.rs` (which adds the signals) and `running/mod.rs`
//! (the overload binary's, which adds memory readings).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::users::create_user_at;

/// The user-service's crate, where its `config/` is.
fn crate_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// A `user-service` subcommand with the test's environment: no inherited database or
/// secret settings, the crate's config directory, logs to a file. `USER_SERVICE_BIN`
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
                .unwrap_or_else(|| crate_dir().join("config").into()),
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
    /// `pub(crate)`: the lifecycle binary waits on it (`lifecycle/running.rs`).
    pub(crate) child: Child,
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

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
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

/// Creates a user with a unique email on a running service; returns its id.
pub async fn create_user(client: &reqwest::Client, service: &RunningService) -> String {
    create_user_at(client, service.url("").trim_end_matches('/')).await
}
