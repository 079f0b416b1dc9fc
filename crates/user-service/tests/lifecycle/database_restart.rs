//! The PostgreSQL server stopped and started again under a running service with a
//! steady read load: it outlives the database, answers 503 while it is gone, and serves
//! again by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::running::{JWT_SECRET, RunningService, create_user, token};
use pg_embedded::EmbeddedPostgres;

/// One read of the load: when it was sent, its status (0: no HTTP answer at all, a
/// reset or a 15 s hang), and how long it took.
type Outcome = (Duration, u16, Duration);

/// A steady read load of `url` until `running` is cleared.
fn spawn_read_load(
    client: &reqwest::Client,
    running: &Arc<AtomicBool>,
    url: &str,
    started: Instant,
) -> JoinHandle<Vec<Outcome>> {
    let (client, running, url) = (client.clone(), running.clone(), url.to_owned());
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
}

/// With the database down: the service is still running, not ready, and a read is a
/// 503 with `Retry-After: 1`.
async fn check_down(client: &reqwest::Client, service: &mut RunningService, user_url: &str) {
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
        .get(user_url)
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
}

/// Polls `user_url` until it answers 200; fails after 30 s.
async fn wait_for_200(
    client: &reqwest::Client,
    user_url: &str,
    service: &RunningService,
    cluster: &EmbeddedPostgres,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = client
            .get(user_url)
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
}

/// The database's crash, down and up times, as offsets from the load's start.
struct Timeline {
    crash_at: Duration,
    down_at: Duration,
    up_at: Duration,
}

/// Every read got an answer: 200 before the crash, 503 while the database was down.
fn check_outcomes(outcomes: &[Outcome], timeline: &Timeline, service: &RunningService) {
    let Timeline {
        crash_at,
        down_at,
        up_at,
    } = *timeline;
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

    // A steady read load for the whole test.
    let running = Arc::new(AtomicBool::new(true));
    let started = Instant::now();
    let load = spawn_read_load(&client, &running, &user_url, started);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let crash_at = started.elapsed();
    cluster.crash().await.expect("killing PostgreSQL");
    let down_at = started.elapsed();
    tokio::time::sleep(Duration::from_millis(200)).await;
    check_down(&client, &mut service, &user_url).await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    cluster
        .start_again()
        .await
        .expect("starting PostgreSQL again");
    let up_at = started.elapsed();
    wait_for_200(&client, &user_url, &service, &cluster).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);
    let outcomes = load.await.expect("the load task");

    let timeline = Timeline {
        crash_at,
        down_at,
        up_at,
    };
    check_outcomes(&outcomes, &timeline, &service);
    let ready = client
        .get(service.url("/health/ready"))
        .send()
        .await
        .expect("answer");
    assert_eq!(ready.status(), 200, "ready again without a restart");
}
