//! Fault tests against the real binary: SIGTERM with requests in flight, and the
//! PostgreSQL server stopped and started again under a running service; and the same
//! binary in its container image (`container`, ignored: scripts/ci/images.sh runs it).

#[path = "lifecycle/container.rs"]
mod container;
mod running;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use pg_embedded::EmbeddedPostgres;
use running::{JWT_SECRET, RunningService, create_user, token};

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

/// A connection in a transaction holding `users` locked, so that requests on it wait.
async fn lock_users_table(database_url: &str) -> PgConnection {
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
    // Writes to one user: coalescing runs them one statement after another (an UPDATE
    // touches a row once), so one waits at the server and the rest queue behind it.
    let in_flight: Vec<_> = (0..8)
        .map(|n| {
            let request = reqwest::Client::new()
                .patch(service.url(&format!("/users/{id}")))
                .bearer_auth(token("users:write"))
                .json(&serde_json::json!({ "email": format!("drain-{n}-{}@example.com", uuid::Uuid::new_v4()) }))
                .send();
            tokio::spawn(request)
        })
        .collect();
    // Wait until the first is inside PostgreSQL, waiting on the lock, and none answered.
    let mut watcher = PgConnection::connect(&database_url)
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

    service.signal(Signal::SIGTERM);
    tokio::time::sleep(Duration::from_millis(200)).await;
    // During the grace period: a new connection sees 503, and so does the open one.
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
    let during = request_on(&mut probe, "/health/ready").await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovers_by_itself_when_postgresql_crashes_and_starts_again_under_read_load() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut cluster = EmbeddedPostgres::throwaway()
        .await
        .expect("a throwaway PostgreSQL");
    let env = [
        ("DATABASE_URL", cluster.url("postgres")),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("APP_DATABASE__ACQUIRE_TIMEOUT_MS", "1000".to_owned()),
    ];
    let mut service = RunningService::start(directory.path(), &env).await;
    let client = reqwest::Client::new();
    let id = create_user(&client, &service).await;
    let user_url = service.url(&format!("/users/{id}"));

    // A steady read load for the whole test: (when it was sent, status, how long it took).
    let running = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let load = {
        let (client, running, url) = (client.clone(), running.clone(), user_url.clone());
        tokio::spawn(async move {
            let token = token("users:read");
            let mut outcomes = Vec::new();
            while running.load(Ordering::Relaxed) {
                let sent = started.elapsed();
                // 0: no HTTP answer at all (a reset, or a 15 s hang).
                let status = match client
                    .get(&url)
                    .bearer_auth(&token)
                    .timeout(Duration::from_secs(15))
                    .send()
                    .await
                {
                    Ok(response) => response.status().as_u16(),
                    Err(error) => {
                        eprintln!(
                            "read failed without an answer at {:?}: {error}",
                            started.elapsed()
                        );
                        0
                    }
                };
                outcomes.push((sent, status, started.elapsed() - sent));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            outcomes
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;

    let crash_at = started.elapsed();
    cluster.crash().await.expect("killing PostgreSQL");
    let down_at = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        service.exited(),
        None,
        "the service outlives the database:\n{}",
        service.logs()
    );
    let ready = client
        .get(service.url("/health/ready"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("readiness answers while the database is down");
    assert_eq!(ready.status(), 503, "not ready without a database");
    let body: serde_json::Value = ready.json().await.expect("a JSON error body");
    assert_eq!(body["checks"]["database"], "unavailable");
    assert_eq!(body["error"], "Database unavailable");

    let response = client
        .get(&user_url)
        .bearer_auth(token("users:read"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 503, "a read while the database is down");
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|value| value.as_bytes()),
        Some(&b"1"[..])
    );
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"], "Database unavailable");
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster
        .start_again()
        .await
        .expect("starting PostgreSQL again");
    let up_at = started.elapsed();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client
            .get(&user_url)
            .bearer_auth(token("users:read"))
            .send()
            .await
            .expect("answer")
            .status();
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the service never recovered (last status {status}); service log:\n{}\nPostgreSQL log:\n{}",
            service.logs(),
            std::fs::read_to_string(cluster.log_file()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);
    let outcomes = load.await.expect("the load task");

    assert!(
        outcomes.iter().all(|(_, status, _)| *status != 0),
        "every read got an HTTP answer; service log:\n{}",
        service.logs()
    );
    // Answered entirely while the database was down.
    let during: Vec<_> = outcomes
        .iter()
        .filter(|(sent, _, took)| *sent > down_at && *sent + *took < up_at)
        .collect();
    assert!(
        !during.is_empty(),
        "reads were sent while the database was down"
    );
    for (sent, status, _) in &during {
        assert_eq!(
            *status, 503,
            "a read sent {sent:?} in, while the database was down"
        );
    }
    for (sent, status, _) in outcomes
        .iter()
        .filter(|(sent, _, took)| *sent + *took < crash_at)
    {
        assert_eq!(*status, 200, "a read sent {sent:?} in, before the crash");
    }
    let slowest_during = during
        .iter()
        .map(|(_, _, took)| *took)
        .max()
        .unwrap_or_default();
    let first_ok_after = outcomes
        .iter()
        .find(|(sent, status, _)| *sent > up_at && *status == 200)
        .map(|(sent, ..)| *sent - up_at);
    eprintln!(
        "database down for {:?}: {} reads answered 503, the slowest in {slowest_during:?}; \
         first 200 sent {first_ok_after:?} after the database was back",
        up_at - down_at,
        during.len()
    );
    let ready = client
        .get(service.url("/health/ready"))
        .send()
        .await
        .expect("answer");
    assert_eq!(ready.status(), 200, "ready again without a restart");
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
