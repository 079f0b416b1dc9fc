//! The database failing in the ways the crash test does not cover: a statement timeout
//! (57014), a server that never answers within the client's deadline, a blackholed
//! network (a proxy that stops forwarding), the connection limit (53300), a full
//! pipelined queue. Each answers 503 with `Retry-After` quickly (bounded generously
//! here: a hang is what fails) and recovers by itself.

use std::time::{Duration, Instant};

use sqlx::{Connection, Executor, PgConnection};

use crate::proxy::BlackholeProxy;
use crate::support::{create_user_at as create, spawn_app, token};
use user_service::settings::Settings;

/// Holds an ACCESS EXCLUSIVE lock on `users` until dropped (or `release`d): every
/// statement on the table waits at the server, as under a long migration.
struct TableLock(PgConnection);

impl TableLock {
    async fn take(database_url: &str) -> TableLock {
        let mut connection = PgConnection::connect(database_url)
            .await
            .expect("connecting");
        connection.execute("BEGIN").await.expect("BEGIN");
        connection
            .execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("locking users");
        TableLock(connection)
    }

    async fn release(mut self) {
        self.0.execute("ROLLBACK").await.expect("ROLLBACK");
    }
}

/// The request's status, its `Retry-After`, and how long the answer took; no answer
/// within `bound` fails the test.
async fn timed(
    request: reqwest::RequestBuilder,
    bound: Duration,
) -> (u16, Option<String>, Duration) {
    let started = Instant::now();
    let response = request
        .timeout(bound)
        .send()
        .await
        .unwrap_or_else(|error| panic!("no answer within {bound:?}: {error}"));
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (response.status().as_u16(), retry_after, started.elapsed())
}

fn reads(client: &reqwest::Client, base: &str, id: &str) -> [reqwest::RequestBuilder; 2] {
    [
        client.get(format!("{base}/users/{id}")),
        client.get(format!("{base}/users?limit=5")),
    ]
    .map(|request| request.bearer_auth(token("users:read")))
}

fn patch(client: &reqwest::Client, base: &str, id: &str) -> reqwest::RequestBuilder {
    client
        .patch(format!("{base}/users/{id}"))
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "email": format!("{}@example.com", uuid::Uuid::new_v4()) }))
}

/// The point read (tokio-postgres), a list and a write (SQLx) each answer 503 with
/// `Retry-After: 1`, every one within `bound` (a hang fails).
async fn every_path_answers_503(client: &reqwest::Client, base: &str, id: &str, bound: Duration) {
    let [get, list] = reads(client, base, id);
    for (name, request) in [
        ("get", get),
        ("list", list),
        ("patch", patch(client, base, id)),
    ] {
        let (status, retry_after, took) = timed(request, bound).await;
        assert_eq!(
            (name, status),
            (name, 503),
            "unavailable, answered after {took:?}"
        );
        assert_eq!(retry_after.as_deref(), Some("1"), "{name}");
        eprintln!("{name}: 503 after {took:?}");
    }
}

/// With `adjust`ed settings and the users table locked, every path answers 503; once
/// the lock is gone, the service serves again.
async fn a_locked_table_answers_503_and_recovers(adjust: impl FnOnce(&mut Settings)) {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = spawn_app(&database_url, adjust).await;
    let client = reqwest::Client::new();
    let id = create(&client, &base).await;

    let lock = TableLock::take(&database_url).await;
    every_path_answers_503(&client, &base, &id, Duration::from_secs(10)).await;
    lock.release().await;
    recovers(&client, &base, &id, Duration::from_secs(10)).await;
}

/// A statement timeout is the same 503 on the point read (tokio-postgres) as on a list
/// or a write (SQLx): one classifier for both drivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_timeout_is_a_503_on_every_path_and_recovers() {
    a_locked_table_answers_503_and_recovers(|settings| {
        settings.database.shared.statement_timeout_ms = 300;
    })
    .await;
}

/// A server that does not answer at all (the statement timeout far away) meets the
/// client-side deadline instead: 503 on every path, not a wait for the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_does_not_answer_meets_the_query_deadline() {
    a_locked_table_answers_503_and_recovers(|settings| {
        // Far below the 120 s statement timeout: only the client deadline can answer.
        settings.database.shared.statement_timeout_ms = 120_000;
        settings.database.shared.query_timeout_ms = 400;
    })
    .await;
}

/// One pipelined connection with room for one query: while that query waits at the
/// server, a second point read is refused at once rather than queued.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pipelined_queue_answers_503_at_once() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = spawn_app(&database_url, |settings: &mut Settings| {
        settings.database.shared.read_connections = 1;
        settings.database.shared.read_queue_depth = 1;
        settings.database.shared.statement_timeout_ms = 120_000;
        settings.database.shared.query_timeout_ms = 30_000;
    })
    .await;
    let client = reqwest::Client::new();
    let id = create(&client, &base).await;

    let lock = TableLock::take(&database_url).await;
    let [first, _] = reads(&client, &base, &id);
    let waiting = tokio::spawn(timed(first, Duration::from_secs(60)));
    // The first read reaches the server and waits on the lock.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let [second, _] = reads(&client, &base, &id);
    // Far below the 30 s deadline: the refusal does not wait for the first read.
    let (status, retry_after, took) = timed(second, Duration::from_secs(10)).await;
    assert_eq!(status, 503, "refused after {took:?}");
    eprintln!("full queue: 503 after {took:?}");
    assert_eq!(retry_after.as_deref(), Some("1"));
    lock.release().await;
    let (status, _, _) = waiting.await.expect("the first read's task");
    assert_eq!(
        status, 200,
        "the queued read is answered once the lock is gone"
    );
    let [again, _] = reads(&client, &base, &id);
    assert_eq!(timed(again, Duration::from_secs(10)).await.0, 200);
}

/// Every status of `requests`, each answered within `bound`.
async fn statuses(
    requests: impl IntoIterator<Item = reqwest::RequestBuilder>,
    bound: Duration,
) -> Vec<(u16, Option<String>)> {
    let mut answers = Vec::new();
    for request in requests {
        let (status, retry_after, _) = timed(request, bound).await;
        answers.push((status, retry_after));
    }
    answers
}

/// Polls until every read answers 200, or fails after `within`.
async fn recovers(client: &reqwest::Client, base: &str, id: &str, within: Duration) {
    let started = Instant::now();
    let deadline = started + within;
    loop {
        let answers = statuses(reads(client, base, id), Duration::from_secs(10)).await;
        if answers.iter().all(|(status, _)| *status == 200) {
            eprintln!("recovered {:?} after the fault ended", started.elapsed());
            return;
        }
        assert!(Instant::now() < deadline, "not recovered: {answers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The network to the database goes silent (no reset, no answer): reads and writes
/// answer 503 at their deadline instead of hanging until TCP gives up, and the service
/// serves again by itself when the network comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_database_answers_503_at_the_deadline_and_recovers() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let proxy = BlackholeProxy::start(&database_url, None).await;
    let base = spawn_app(&proxy.url, |settings: &mut Settings| {
        settings.database.shared.query_timeout_ms = 500;
        settings.database.shared.acquire_timeout_ms = 500;
    })
    .await;
    let client = reqwest::Client::new();
    let id = create(&client, &base).await;

    proxy.blackhole(true);
    for _round in 0..3 {
        every_path_answers_503(&client, &base, &id, Duration::from_secs(10)).await;
    }
    proxy.blackhole(false);
    recovers(&client, &base, &id, Duration::from_secs(30)).await;
    let (status, _, _) = timed(patch(&client, &base, &id), Duration::from_secs(10)).await;
    assert_eq!(status, 200, "writes recover too");
}

/// The server refuses new connections with 53300 (here: the role's connection limit,
/// taken by the pipelined read connection): calls that need a new pooled connection
/// answer 503, and the service recovers by itself once connections are allowed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_answers_503_and_recovers() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let role = format!("limited_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&database_url)
        .await
        .expect("connecting");
    for statement in [
        format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 1"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON users TO {role}"),
    ] {
        admin.execute(statement.as_str()).await.expect(&statement);
    }
    // Through the proxy, so that the role's URL works whatever the server listens on.
    let proxy = BlackholeProxy::start(&database_url, Some(&role)).await;
    let base = spawn_app(&proxy.url, |settings: &mut Settings| {
        settings.database.shared.migrate_on_start = false;
        settings.database.shared.read_connections = 1;
    })
    .await;
    let client = reqwest::Client::new();
    let write = || {
        client
            .post(format!("{base}/users"))
            .bearer_auth(token("users:write"))
            .json(&serde_json::json!({ "email": format!("{}@example.com", uuid::Uuid::new_v4()) }))
    };
    let list = || {
        client
            .get(format!("{base}/users?limit=5"))
            .bearer_auth(token("users:read"))
    };
    for (status, retry_after) in statuses([write(), list()], Duration::from_secs(10)).await {
        assert_eq!(status, 503, "no connection to be had: unavailable");
        assert_eq!(retry_after.as_deref(), Some("1"));
    }
    admin
        .execute(format!("ALTER ROLE {role} CONNECTION LIMIT -1").as_str())
        .await
        .expect("lifting the limit");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answers = statuses([write(), list()], Duration::from_secs(10)).await;
        if answers.iter().map(|(status, _)| *status).eq([201, 200]) {
            break;
        }
        assert!(Instant::now() < deadline, "not recovered: {answers:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
