//! Where the real binary finds its `config/` without `APP_CONFIG_DIR` (from the repository
//! root, `crates/user-service/config`; from its crate, `config`), that its start-up line
//! names the folder, and that `APP_DATABASE__READ_PATH` and `APP_DATABASE__COALESCE`, the
//! user-service's own keys of `[database]`, still take effect under their old names.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::running::{JWT_SECRET, command};
use pg_embedded::EmbeddedPostgres;

/// `serve` from `cwd` with no `APP_CONFIG_DIR`, logging to `log`, until it is live.
async fn serve_from(cwd: &Path, log: &Path, env: &[(&str, String)]) -> Child {
    let port = pg_embedded::free_port().expect("the loopback interface has free ports");
    let file = std::fs::File::create(log).expect("the test directory is writable");
    let mut env = env.to_vec();
    env.push(("PORT", port.to_string()));
    let mut child = command(cwd, &["serve"], &env)
        .env_remove("APP_CONFIG_DIR")
        .stdout(file.try_clone().expect("duplicating a file handle"))
        .stderr(file)
        .stdin(Stdio::null())
        .spawn()
        .expect("the user-service binary starts");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let live = client
            .get(format!("http://127.0.0.1:{port}/health/live"))
            .send()
            .await;
        if live.is_ok_and(|response| response.status() == 200) {
            return child;
        }
        let logs = std::fs::read_to_string(log).unwrap_or_default();
        assert!(
            matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline,
            "the service did not start:\n{logs}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The JSON log line whose message is `message`.
fn log_line(logs: &str, message: &str) -> serde_json::Value {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["message"] == message)
        .unwrap_or_else(|| panic!("no log line {message:?} in:\n{logs}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_is_found_from_the_root_and_the_crate_and_database_names_keep_working() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cluster = EmbeddedPostgres::throwaway()
        .await
        .expect("a throwaway PostgreSQL");
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let root = crate_dir.join("../..");
    let env = [
        ("DATABASE_URL", cluster.url("postgres")),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("APP_DATABASE__READ_PATH", "pool".to_owned()),
        ("APP_DATABASE__COALESCE", "false".to_owned()),
    ];
    for (cwd, expected) in [
        (&root, "crates/user-service/config"),
        (&crate_dir, "config"),
    ] {
        let log = directory.path().join("service.log");
        let mut child = serve_from(cwd, &log, &env).await;
        let _ = child.kill();
        let _ = child.wait();
        let logs = std::fs::read_to_string(&log).expect("the log file");
        let listening = log_line(&logs, "user-service is listening");
        assert_eq!(listening["config"], expected, "{logs}");
        let database = log_line(&logs, "point reads and writes");
        assert_eq!(database["read_path"], "Pool", "{logs}");
        assert_eq!(database["coalesce"], false, "{logs}");
    }
}
