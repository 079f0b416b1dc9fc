//! A pipelined read connection whose PostgreSQL backend stops running (SIGSTOP: what an
//! oversubscribed scheduler does to it for a while): with `database.read_hedge_ms` the
//! reads that are late on it are answered through the pool; without, they wait for the
//! query deadline and get 503.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::support::{create_user_at, spawn_app, token};

/// A stopped backend, continued however the test ends.
struct Stopped(Pid);

impl Stopped {
    fn stop(pid: i32) -> Self {
        let pid = Pid::from_raw(pid);
        kill(pid, Signal::SIGSTOP).expect("the test runs as the backend's owner or root");
        Stopped(pid)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = kill(self.0, Signal::SIGCONT);
    }
}

/// The backend of the app's pipelined read connection (its database is the test's own).
async fn pipelined_backend(database_url: &str) -> i32 {
    let pool = sqlx::PgPool::connect(database_url)
        .await
        .expect("the test database");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let pid: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity \
             WHERE application_name = 'pipelined-reads' AND datname = current_database()",
        )
        .fetch_optional(&pool)
        .await
        .expect("pg_stat_activity");
        if let Some(pid) = pid {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "the pipelined connection is up within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads `ids` at once while the pipelined backend is stopped; their statuses, in order.
async fn read_while_stopped(database_url: &str, base: &str, ids: &[String]) -> Vec<u16> {
    let client = reqwest::Client::new();
    let read = |id: &String| {
        client
            .get(format!("{base}/users/{id}"))
            .bearer_auth(token("users:read"))
            .timeout(Duration::from_secs(10))
            .send()
    };
    // The connection has served a read, so it is the one the reads go to.
    assert_eq!(read(&ids[0]).await.expect("an answer").status(), 200);
    let _stopped = Stopped::stop(pipelined_backend(database_url).await);
    let answers = futures_util::future::join_all(ids.iter().map(read)).await;
    answers
        .into_iter()
        .map(|answer| {
            answer
                .expect("an answer within 10 s while the backend is stopped")
                .status()
                .as_u16()
        })
        .collect()
}

async fn users(base: &str, count: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(create_user_at(&client, base).await);
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_late_on_a_stopped_backend_are_answered_through_the_pool() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = spawn_app(&database_url, |settings| {
        settings.database.shared.read_hedge_ms = 10;
        settings.database.shared.query_timeout_ms = 8000;
    })
    .await;
    let ids = users(&base, 20).await;
    let started = Instant::now();
    let statuses = read_while_stopped(&database_url, &base, &ids).await;
    assert_eq!(statuses, vec![200; ids.len()], "every read answered");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered through the pool, not after the 8 s query deadline: {:?}",
        started.elapsed()
    );
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("a text body");
    let hedges: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("db_read_hedges_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("db_read_hedges_total in:\n{metrics}"));
    assert!(
        hedges >= ids.len() as f64,
        "each read that met the stopped backend was hedged: {hedges}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_hedging_reads_wait_for_the_stopped_backend_until_their_deadline() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = spawn_app(&database_url, |settings| {
        settings.database.shared.read_hedge_ms = 0;
        settings.database.shared.query_timeout_ms = 1000;
    })
    .await;
    let ids = users(&base, 5).await;
    let statuses = read_while_stopped(&database_url, &base, &ids).await;
    assert_eq!(
        statuses,
        vec![503; ids.len()],
        "every read met the deadline"
    );
}
