//! SIGTERM with requests in flight: they finish, readiness says 503 meanwhile, and the
//! service exits 0; a second SIGTERM during the drain stops it at once.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use crate::running::{JWT_SECRET, RunningService, create_user, token};

/// Sends one request on an open keep-alive connection and reads the whole response.
async fn request_on(connection: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n");
    connection
        .write_all(request.as_bytes())
        .await
        .expect("writing a request");
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    // Read until the body announced by content-length is complete.
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), connection.read(&mut buffer))
            .await
            .expect("the service answers within 10 s")
            .expect("reading the response");
        response.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&response);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|value| value.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text.into_owned();
            }
        }
        if read == 0 {
            return text.into_owned();
        }
    }
}

/// A connection in a transaction holding `users` locked, so that requests on it wait
/// (also the container test's).
pub async fn lock_users_table(database_url: &str) -> PgConnection {
    let mut blocker = PgConnection::connect(database_url)
        .await
        .expect("connecting to the test database");
    blocker.execute("BEGIN").await.expect("BEGIN");
    blocker
        .execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("locking users");
    blocker
}

/// PATCHes of one user: coalescing runs them one statement after another (an UPDATE
/// touches a row once), so with the table locked one waits at the server and the rest
/// queue behind it.
fn patch_in_flight(
    service: &RunningService,
    id: &str,
) -> Vec<JoinHandle<reqwest::Result<reqwest::Response>>> {
    (0..8)
        .map(|n| {
            let request = reqwest::Client::new()
                .patch(service.url(&format!("/users/{id}")))
                .bearer_auth(token("users:write"))
                .json(&serde_json::json!({ "email": format!("drain-{n}-{}@example.com", uuid::Uuid::new_v4()) }))
                .send();
            tokio::spawn(request)
        })
        .collect()
}

/// Waits until the first request is inside PostgreSQL, waiting on the lock, and none
/// answered.
async fn wait_until_at_the_lock(
    database_url: &str,
    in_flight: &[JoinHandle<reqwest::Result<reqwest::Response>>],
) {
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
        if waiting >= 1 && in_flight.iter().all(|request| !request.is_finished()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "requests never reached the database ({waiting} waiting)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// During the grace period: a new connection sees 503, and so does the open `probe`.
async fn check_draining(client: &reqwest::Client, service: &RunningService, probe: &mut TcpStream) {
    let fresh = client
        .get(service.url("/health/ready"))
        .send()
        .await
        .expect("accepting during the grace period");
    assert_eq!(
        fresh.status(),
        503,
        "readiness on a new connection while draining"
    );
    let during = request_on(probe, "/health/ready").await;
    assert!(
        during.starts_with("HTTP/1.1 503"),
        "readiness is 503 while draining:\n{during}"
    );
    assert!(
        during.contains("Draining"),
        "the failing check is named:\n{during}"
    );
    assert!(
        during.to_ascii_lowercase().contains("connection: close"),
        "keep-alive clients are told to leave:\n{during}"
    );
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let env = [
        ("DATABASE_URL", database_url.clone()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("DB_POOL_SIZE", "20".to_owned()),
        ("APP_SERVER__DRAIN_TIMEOUT_SECS", "20".to_owned()),
        ("APP_SERVER__DRAIN_GRACE_MS", "3000".to_owned()),
    ];
    let mut service = RunningService::start(directory.path(), &env).await;
    let client = reqwest::Client::new();
    let id = create_user(&client, &service).await;

    // A keep-alive connection opened before the signal, to watch readiness during the
    // drain (the listener stops accepting new connections at once).
    let mut probe = TcpStream::connect(("127.0.0.1", service.port))
        .await
        .expect("connecting");
    let before = request_on(&mut probe, "/health/ready").await;
    assert!(
        before.starts_with("HTTP/1.1 200"),
        "ready before the signal:\n{before}"
    );

    // Hold the table so that requests stay in flight until we let go.
    let mut blocker = lock_users_table(&database_url).await;
    let in_flight = patch_in_flight(&service, &id);
    wait_until_at_the_lock(&database_url, &in_flight).await;

    service.signal(Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    check_draining(&client, &service, &mut probe).await;
    blocker
        .execute("ROLLBACK")
        .await
        .expect("releasing the lock");
    for request in in_flight {
        let response = request
            .await
            .expect("the request task")
            .expect("an in-flight request completes");
        assert_eq!(response.status(), 200, "in-flight requests finish normally");
    }
    let status = service.wait_exit(Duration::from_secs(25)).await;
    assert_eq!(
        status.code(),
        Some(0),
        "exit code after the drain:\n{}",
        service.logs()
    );
}

/// A second SIGTERM during the drain stops the service at once, with a non-zero status,
/// although a request is still in flight.
#[tokio::test]
async fn a_second_sigterm_during_the_drain_exits_at_once_non_zero() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let env = [
        ("DATABASE_URL", database_url.clone()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("APP_SERVER__DRAIN_TIMEOUT_SECS", "30".to_owned()),
        ("APP_SERVER__DRAIN_GRACE_MS", "200".to_owned()),
    ];
    let mut service = RunningService::start(directory.path(), &env).await;
    let client = reqwest::Client::new();
    let id = create_user(&client, &service).await;
    // A write held in flight by a lock (until the 5 s statement timeout).
    let _blocker = lock_users_table(&database_url).await;
    let in_flight = tokio::spawn(
        client
            .patch(service.url(&format!("/users/{id}")))
            .bearer_auth(token("users:write"))
            .json(&serde_json::json!({ "email": format!("second-{}@example.com", uuid::Uuid::new_v4()) }))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    service.signal(Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        service.exited().is_none(),
        "the first signal drains, it does not stop"
    );
    let signalled = Instant::now();
    service.signal(Signal::SIGTERM);
    let status = service.wait_exit(Duration::from_secs(3)).await;
    assert!(
        !status.success(),
        "a second signal exits non-zero, got {status} after {:?}",
        signalled.elapsed()
    );
    in_flight.abort();
}
