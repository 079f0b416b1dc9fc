//! Coalesced creates and reads (the real binary, coalescing on as shipped) while
//! PostgreSQL is killed in the middle of their batches: no request hangs, each is
//! answered or gets a 503, nothing is written twice, and the service answers 200 again
//! within 5 s of the database's return.

mod running;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use pg_embedded::EmbeddedPostgres;
use running::{JWT_SECRET, RunningService, token};

/// Concurrent clients of each kind: enough that batches form.
const CREATORS: usize = 32;
const READERS: usize = 32;

/// One create: its id and email, and the status it got (0: no HTTP answer within 15 s).
struct Attempt {
    id: Uuid,
    email: String,
    status: u16,
}

async fn post_user(client: &reqwest::Client, url: &str, id: Uuid, email: &str) -> u16 {
    let sent = client
        .post(url)
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "id": id, "email": email }))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    sent.map(|response| response.status().as_u16()).unwrap_or(0)
}

async fn get_status(client: &reqwest::Client, url: &str) -> u16 {
    let sent = client
        .get(url)
        .bearer_auth(token("users:read"))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    sent.map(|response| response.status().as_u16()).unwrap_or(0)
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
    let creators: Vec<_> = (0..CREATORS)
        .map(|_| {
            let (client, running, url) = (client.clone(), running.clone(), users_url.clone());
            tokio::spawn(async move {
                let mut attempts = Vec::new();
                while running.load(Ordering::Relaxed) {
                    let id = Uuid::now_v7();
                    let email = format!("load-{}@example.com", id.simple());
                    let status = post_user(&client, &url, id, &email).await;
                    attempts.push(Attempt { id, email, status });
                }
                attempts
            })
        })
        .collect();
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (client, running, url) = (client.clone(), running.clone(), known_url.clone());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while running.load(Ordering::Relaxed) {
                    statuses.push(get_status(&client, &url).await);
                }
                statuses
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.crash().await.expect("killing PostgreSQL");
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster
        .start_again()
        .await
        .expect("starting PostgreSQL again");
    let back = Instant::now();
    let recovered = loop {
        if get_status(&client, &known_url).await == 200 {
            break back.elapsed();
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "the service never answered 200 again:\n{}",
            service.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.store(false, Ordering::Relaxed);

    let mut attempts = Vec::new();
    for creator in creators {
        attempts.extend(creator.await.expect("a creator task"));
    }
    let mut reads = Vec::new();
    for reader in readers {
        reads.extend(reader.await.expect("a reader task"));
    }
    let unavailable = attempts
        .iter()
        .filter(|attempt| attempt.status == 503)
        .count();
    eprintln!(
        "{} creates ({} answered 503), {} reads; 200 again {recovered:?} after the database was back",
        attempts.len(),
        unavailable,
        reads.len()
    );
    for attempt in &attempts {
        assert!(
            matches!(attempt.status, 201 | 503),
            "a fresh create is created or unavailable, got {} (0: no answer):\n{}",
            attempt.status,
            service.logs()
        );
    }
    for status in &reads {
        assert!(
            matches!(status, 200 | 503),
            "a read of an existing user is 200 or 503, got {status}"
        );
    }
    assert!(unavailable > 0, "some creates met the database down");
    assert!(
        recovered < Duration::from_secs(5),
        "200 again {recovered:?} after the database's return"
    );

    // A create that got 503 is either committed or not, never half: its retry is a 201
    // or a 200, never a 409. Then every attempt is stored exactly once.
    for attempt in attempts.iter().filter(|attempt| attempt.status == 503) {
        let retried = post_user(&client, &users_url, attempt.id, &attempt.email).await;
        assert!(
            matches!(retried, 200 | 201),
            "the retry of a create answered 503 got {retried}"
        );
    }
    let mut database = PgConnection::connect(&cluster.url("postgres"))
        .await
        .expect("connecting");
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut database)
        .await
        .expect("counting users");
    assert_eq!(
        stored,
        i64::try_from(attempts.len() + 1).expect("a small count"),
        "each attempted user stored once, and the known user"
    );
}
