//! Coalesced creates, reads, PATCHes and DELETEs (the real binary, coalescing on as
//! shipped) while PostgreSQL is killed in the middle of their batches: no request
//! hangs, each is answered or gets a 503, nothing is written twice, and the service
//! answers 200 again within 5 s of the database's return.
//!
//! The load itself (the clients and what they collect) is `coalescing_load`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::coalescing_load::{
    Answers, Load, PATCHERS, get_status, insert_deletable, patch_user, post_user, send_status,
    spawn_creators, spawn_deleters, spawn_patchers, spawn_readers,
};
use crate::running::{JWT_SECRET, RunningService};
use pg_embedded::EmbeddedPostgres;

/// Kills PostgreSQL under the load, starts it again, and waits for a 200 on
/// `known_url`; how long that took after the database was back.
async fn crash_and_recover(
    cluster: &mut EmbeddedPostgres,
    client: &reqwest::Client,
    known_url: &str,
    service: &RunningService,
) -> Duration {
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.crash().await.expect("killing PostgreSQL");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster
        .start_again()
        .await
        .expect("starting PostgreSQL again");
    let back = Instant::now();
    loop {
        if get_status(client, known_url).await == 200 {
            return back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the service never answered 200 again:\n{}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every answer is a success or a 503, some creates met the database down, and the
/// service answered 200 within 5 s of the database's return.
fn check_answers(answers: &Answers, recovered: Duration, service: &RunningService) {
    let Answers {
        attempts,
        reads,
        patches,
        deletes,
    } = answers;
    let unavailable = attempts
        .iter()
        .filter(|attempt| attempt.status == 503)
        .count();
    eprintln!(
        "{} creates ({} answered 503), {} reads, {} patches, {} deletes; 200 again {recovered:?} after the database was back",
        attempts.len(),
        unavailable,
        reads.len(),
        patches.len(),
        deletes.len()
    );
    for attempt in attempts {
        assert!(
            matches!(attempt.status, 201 | 503),
            "a fresh create is created or unavailable, got {} (0: no answer):\n{}",
            attempt.status,
            service.logs()
        );
    }
    for status in reads {
        assert!(
            matches!(status, 200 | 503),
            "a read of an existing user is 200 or 503, got {status}"
        );
    }
    for (_, _, status) in patches {
        assert!(
            matches!(status, 200 | 503),
            "a PATCH of an existing user to a fresh email is 200 or 503, got {status} (0: no answer)"
        );
    }
    for (_, status) in deletes {
        assert!(
            matches!(status, 204 | 503),
            "a first DELETE of an existing user is 204 or 503, got {status} (0: no answer)"
        );
    }
    assert!(unavailable > 0, "some creates met the database down");
    assert!(
        recovered < Duration::from_secs(5),
        "200 again {recovered:?} after the database's return"
    );
}

/// A create that got 503 is either committed or not, never half: its retry is a 201
/// or a 200, never a 409. A PATCH or DELETE answered 503 was applied or not: its retry
/// is a 200, and a 204 or a 404 (when the first one had committed).
async fn check_retries(client: &reqwest::Client, users_url: &str, answers: &Answers) {
    for attempt in answers
        .attempts
        .iter()
        .filter(|attempt| attempt.status == 503)
    {
        let retried = post_user(client, users_url, attempt.id, &attempt.email).await;
        assert!(
            matches!(retried, 200 | 201),
            "the retry of a create answered 503 got {retried}"
        );
    }
    for (url, email, _) in answers
        .patches
        .iter()
        .filter(|(_, _, status)| *status == 503)
    {
        let retried = patch_user(client, url, email).await;
        assert_eq!(retried, 200, "the retry of a PATCH answered 503");
    }
    for (url, _) in answers.deletes.iter().filter(|(_, status)| *status == 503) {
        let retried = send_status(client.delete(url)).await;
        assert!(
            matches!(retried, 204 | 404),
            "the retry of a DELETE answered 503 got {retried}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_killed_mid_batch_no_hang_no_double_write_and_200_within_5s() {
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
    let users_url = service.url("/users");
    let known = Uuid::now_v7();
    assert_eq!(
        post_user(&client, &users_url, known, "known@example.com").await,
        201
    );
    let known_url = service.url(&format!("/users/{known}"));

    let running = Arc::new(AtomicBool::new(true));
    let creators = spawn_creators(&client, &running, &users_url);
    let readers = spawn_readers(&client, &running, &known_url);
    let patchers = spawn_patchers(&client, &running, &service).await;
    let deletable = insert_deletable(&cluster.url("postgres")).await;
    let deleters = spawn_deleters(&client, &running, &service, &deletable);
    let load = Load {
        running,
        creators,
        readers,
        patchers,
        deleters,
    };

    let recovered = crash_and_recover(&mut cluster, &client, &known_url, &service).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answers = load.stop().await;
    check_answers(&answers, recovered, &service);

    // Retried, then every attempt is stored exactly once.
    check_retries(&client, &users_url, &answers).await;
    let mut database = PgConnection::connect(&cluster.url("postgres"))
        .await
        .expect("connecting");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut database)
        .await
        .expect("counting users");
    let expected = answers.attempts.len() + 1 + PATCHERS + deletable.len() - answers.deletes.len();
    assert_eq!(
        stored,
        i64::try_from(expected).expect("a small count"),
        "each attempted user stored once, the known and the patched users, and the deletable users not deleted"
    );
}
