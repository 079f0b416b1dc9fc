//! Fault tests against the real binary: SIGTERM with requests in flight, and the
//! PostgreSQL server stopped and started again under a running service.

mod running;

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use kit::db::embedded::EmbeddedPostgres;
use running::{JWT_SECRET, RunningService, token};

async fn create_user(client: &reqwest::Client, service: &RunningService) -> String {
    let response = client
        .post(service.url("/users"))
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "email": format!("{}@example.com", uuid::Uuid::new_v4()) }))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), 201, "creating a user");
    let body: serde_json::Value = response.json().await.expect("a JSON user");
    body["id"].as_str().expect("the user has an id").to_owned()
}

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
    let mut blocker = PgConnection::connect(&database_url)
        .await
        .expect("connecting to the test database");
    blocker.execute("BEGIN").await.expect("BEGIN");
    blocker
        .execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("locking users");
    let in_flight: Vec<_> = (0..8)
        .map(|_| {
            let request = reqwest::Client::new()
                .get(service.url(&format!("/users/{id}")))
                .bearer_auth(token("users:read"))
                .send();
            tokio::spawn(request)
        })
        .collect();
    // Wait until all eight are inside PostgreSQL, waiting on the lock.
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
        if waiting >= 8 {
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

#[tokio::test]
async fn recovers_by_itself_when_postgresql_stops_and_starts_again() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let mut cluster = EmbeddedPostgres::throwaway()
        .await
        .expect("a throwaway PostgreSQL");
    let env = [
        ("DATABASE_URL", cluster.url("postgres")),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("APP_DATABASE__ACQUIRE_TIMEOUT_MS", "1000".to_owned()),
    ];
    let service = RunningService::start(directory.path(), &env).await;
    let client = reqwest::Client::new();
    let id = create_user(&client, &service).await;
    let get_user = || {
        client
            .get(service.url(&format!("/users/{id}")))
            .bearer_auth(token("users:read"))
            .timeout(Duration::from_secs(15))
            .send()
    };
    assert_eq!(get_user().await.expect("answer").status(), 200);

    cluster.stop().await.expect("stopping PostgreSQL");

    let started = Instant::now();
    let ready = client
        .get(service.url("/health/ready"))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("readiness answers while the database is down");
    let ready_after = started.elapsed();
    assert_eq!(ready.status(), 503, "not ready without a database");
    let body: serde_json::Value = ready.json().await.expect("a JSON error body");
    assert_eq!(body["checks"]["database"], "unavailable");
    assert_eq!(body["error"], "Database unavailable");

    let started = Instant::now();
    let response = get_user()
        .await
        .expect("requests are answered, not left hanging");
    let answered_after = started.elapsed();
    assert_eq!(
        response.status(),
        503,
        "a request that needs the database gets 503"
    );
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .map(|value| value.as_bytes()),
        Some(&b"1"[..])
    );
    let body: serde_json::Value = response.json().await.expect("a JSON error body");
    assert_eq!(body["error"], "Database unavailable");
    eprintln!(
        "database down: readiness 503 after {ready_after:?}, a read 503 after {answered_after:?}"
    );

    cluster
        .start_again()
        .await
        .expect("starting PostgreSQL again");
    let back = Instant::now();
    loop {
        let status = get_user().await.expect("answer").status();
        if status == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the service never recovered (last status {status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "database back: reads answered 200 again after {:?}",
        back.elapsed()
    );
    let ready = client
        .get(service.url("/health/ready"))
        .send()
        .await
        .expect("answer");
    assert_eq!(ready.status(), 200, "ready again without a restart");
}
