//! The user-service image (deploy/containers/rust.Containerfile) run by podman against a
//! real PostgreSQL: readiness, an authenticated request, the drain on `podman stop` under
//! load, and the embedded database refused. Ignored by default: it needs podman and the
//! image; scripts/ci/images.sh builds the image and runs these tests.
//!
//! The image is `localhost/user-service:dev` (scripts/images.sh), or `USER_SERVICE_IMAGE`.
//! The container shares the host's network; it reaches the test's PostgreSQL, which
//! listens only on a private Unix socket, through that socket's directory mounted at the
//! same path, run as the socket's owner (the image's own user cannot enter it). Every
//! `podman` call is plain: the engine's settings are the machine's (scripts/setup.sh).

use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};
use tokio::task::JoinHandle;

use crate::drain::lock_users_table;
use crate::running::{JWT_SECRET, create_user_at, token};

/// How long `podman stop` waits before SIGKILL: above the drain timeout (30 s).
const STOP_TIMEOUT_SECS: &str = "35";

fn image() -> String {
    std::env::var("USER_SERVICE_IMAGE").unwrap_or_else(|_| "localhost/user-service:dev".into())
}

fn podman(args: &[&str]) -> Output {
    Command::new("podman")
        .args(args)
        .output()
        .expect("podman runs (scripts/setup.sh installs it)")
}

/// A container by name, removed when the test ends.
struct Container {
    name: String,
}

impl Container {
    /// `podman run --detach` of the image with `args` before the image name.
    fn run(args: &[&str]) -> Container {
        let name = format!("user-service-test-{}", uuid::Uuid::new_v4().simple());
        let image = image();
        let mut all = vec!["run", "--detach", "--name", &name];
        all.extend_from_slice(args);
        all.push(&image);
        let output = podman(&all);
        assert!(
            output.status.success(),
            "podman run {image}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Container { name }
    }

    fn logs(&self) -> String {
        let output = podman(&["logs", &self.name]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    fn state(&self, field: &str) -> String {
        let output = podman(&[
            "inspect",
            "--format",
            &format!("{{{{.State.{field}}}}}"),
            &self.name,
        ]);
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// Waits until the container has exited; returns its exit code.
    async fn exit_code(&self, within: Duration) -> i32 {
        let deadline = Instant::now() + within;
        while self.state("Running") == "true" {
            assert!(Instant::now() < deadline, "still running:\n{}", self.logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.state("ExitCode")
            .parse()
            .expect("podman reports an exit code")
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = podman(&["rm", "--force", "--time", "0", &self.name]);
    }
}

/// The directory of the database's Unix socket: the `host` of its URL.
fn socket_dir(database_url: &str) -> String {
    let url = reqwest::Url::parse(database_url).expect("the test database URL parses");
    url.query_pairs()
        .find_map(|(key, value)| (key == "host").then(|| value.into_owned()))
        .expect("the embedded server is reached through its socket directory")
}

/// Polls `/health/ready` until 200; panics with the logs if the container exits first.
async fn wait_ready(container: &Container, base: &str) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = client.get(format!("{base}/health/ready")).send().await
            && response.status() == 200
        {
            return;
        }
        assert_eq!(
            container.state("Running"),
            "true",
            "the container exited during start-up:\n{}",
            container.logs()
        );
        assert!(
            Instant::now() < deadline,
            "not ready within 60 s:\n{}",
            container.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One reader of `read_load`: per request, whether it was sent after the stop began and
/// its status (`Err`: no HTTP answer).
type ReadLoad = JoinHandle<Vec<(bool, Result<u16, String>)>>;

/// Reads user `id` in a loop until `running` is false.
fn read_load(
    base: &str,
    id: &str,
    running: Arc<AtomicBool>,
    stopping: Arc<AtomicBool>,
) -> ReadLoad {
    let url = format!("{base}/users/{id}");
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let token = token("users:read");
        let mut outcomes = Vec::new();
        while running.load(Ordering::Relaxed) {
            let after_stop = stopping.load(Ordering::Relaxed);
            let outcome = client
                .get(&url)
                .bearer_auth(&token)
                .timeout(Duration::from_secs(20))
                .send()
                .await
                .map(|response| response.status().as_u16())
                .map_err(|error| error.to_string());
            outcomes.push((after_stop, outcome));
        }
        outcomes
    })
}

/// One authenticated write and read; without a token, 401. Returns the user's id.
async fn check_auth(client: &reqwest::Client, base: &str) -> String {
    let id = create_user_at(client, base).await;
    let read = client
        .get(format!("{base}/users/{id}"))
        .bearer_auth(token("users:read"))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(read.status(), 200, "reading the new user");
    let body: serde_json::Value = read.json().await.expect("a JSON user");
    assert_eq!(body["id"], id.as_str());
    let anonymous = client
        .get(format!("{base}/users/{id}"))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(anonymous.status(), 401, "no token, no user");
    id
}

/// Eight writes of user `id`, held inside PostgreSQL while `users` is locked.
fn held_writes(base: &str, id: &str) -> Vec<JoinHandle<reqwest::Result<reqwest::Response>>> {
    (0..8)
        .map(|n| {
            tokio::spawn(
                reqwest::Client::new()
                    .patch(format!("{base}/users/{id}"))
                    .bearer_auth(token("users:write"))
                    .json(&serde_json::json!({ "email": format!("drain-{n}-{}@example.com", uuid::Uuid::new_v4()) }))
                    .send(),
            )
        })
        .collect()
}

/// Waits until a request waits on the lock at the server.
async fn wait_for_the_lock(database_url: &str) {
    let mut watcher = PgConnection::connect(database_url)
        .await
        .expect("connecting");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .fetch_one(&mut watcher)
        .await
        .expect("reading pg_stat_activity");
        if waiting >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "no request reached the lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every read answered during the drain was 200, and only a read sent after the stop
/// began may have no answer; how many were sent before it.
async fn check_reads(readers: Vec<ReadLoad>) -> usize {
    let mut before = 0;
    for reader in readers {
        for (after_stop, outcome) in reader.await.expect("a reader task") {
            match outcome {
                Ok(status) => assert_eq!(status, 200, "a read answered during the drain"),
                Err(error) => assert!(after_stop, "a read sent before the stop failed: {error}"),
            }
            before += usize::from(!after_stop);
        }
    }
    before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs podman and the image: scripts/ci/images.sh builds it and runs this"]
async fn the_image_serves_with_auth_and_drains_in_flight_requests_on_podman_stop() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let socket_dir = socket_dir(&database_url);
    let owner = std::fs::metadata(&socket_dir).expect("the socket directory exists");
    let port = pg_embedded::free_port().expect("a free port");
    let base = format!("http://127.0.0.1:{port}");
    let container = Container::run(&[
        "--network=host",
        "--read-only",
        &format!("--user={}:{}", owner.uid(), owner.gid()),
        &format!("--volume={socket_dir}:{socket_dir}"),
        &format!("--env=DATABASE_URL={database_url}"),
        &format!("--env=JWT_SECRET={JWT_SECRET}"),
        &format!("--env=PORT={port}"),
        "--env=APP_SERVER__DRAIN_GRACE_MS=2000",
    ]);
    wait_ready(&container, &base).await;

    let client = reqwest::Client::new();
    let id = check_auth(&client, &base).await;

    // Load: eight readers in a loop, and eight writes held inside PostgreSQL by a lock.
    let (running, stopping) = (
        Arc::new(AtomicBool::new(true)),
        Arc::new(AtomicBool::new(false)),
    );
    let readers: Vec<_> = (0..8)
        .map(|_| read_load(&base, &id, running.clone(), stopping.clone()))
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut blocker = lock_users_table(&database_url).await;
    let writes = held_writes(&base, &id);
    wait_for_the_lock(&database_url).await;

    // SIGTERM through the engine, with requests in flight.
    stopping.store(true, Ordering::Relaxed);
    let name = container.name.clone();
    let stop =
        tokio::task::spawn_blocking(move || podman(&["stop", "--time", STOP_TIMEOUT_SECS, &name]));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let draining = client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .expect("the listener is open during the grace period");
    assert_eq!(draining.status(), 503, "the signal reached the service");
    blocker
        .execute("ROLLBACK")
        .await
        .expect("releasing the lock");
    for write in writes {
        let response = write
            .await
            .expect("the request task")
            .expect("an in-flight request completes");
        assert_eq!(response.status(), 200, "in-flight writes finish normally");
    }
    let stopped = stop.await.expect("the podman stop task");
    assert!(
        stopped.status.success(),
        "podman stop: {}",
        String::from_utf8_lossy(&stopped.stderr)
    );
    let code = container.exit_code(Duration::from_secs(40)).await;
    assert_eq!(code, 0, "exit code after the drain:\n{}", container.logs());

    running.store(false, Ordering::Relaxed);
    let before = check_reads(readers).await;
    assert!(before > 0, "the readers made requests before the stop");
    println!("container drain: {before} reads before the stop, all 200; exit code {code}");
}

#[tokio::test]
#[ignore = "needs podman and the image: scripts/ci/images.sh builds it and runs this"]
async fn the_image_refuses_the_embedded_database() {
    let container = Container::run(&[
        "--network=host",
        "--read-only",
        &format!("--env=JWT_SECRET={JWT_SECRET}"),
        &format!(
            "--env=PORT={}",
            pg_embedded::free_port().expect("a free port")
        ),
    ]);
    let code = container.exit_code(Duration::from_secs(30)).await;
    let logs = container.logs();
    assert_ne!(code, 0, "started without DATABASE_URL:\n{logs}");
    assert!(
        logs.contains("DATABASE_URL"),
        "the error names DATABASE_URL:\n{logs}"
    );
}
