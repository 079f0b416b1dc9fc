//! Coalesced creates, reads, PATCHes and DELETEs (the real binary, coalescing on as
//! shipped) while PostgreSQL is killed in the middle of their batches: no request
//! hangs, each is answered or gets a 503, nothing is written twice, and the service
//! answers 200 again within 5 s of the database's return.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::running::{JWT_SECRET, RunningService, token};
use pg_embedded::EmbeddedPostgres;

/// Concurrent clients of each kind: enough that batches form.
const CREATORS: usize = 16;
const READERS: usize = 16;
const PATCHERS: usize = 16;
const DELETERS: usize = 16;
/// Users inserted for the deleters to delete, each at most once.
const DELETABLE: i64 = 20_000;

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

async fn send_status(request: reqwest::RequestBuilder) -> u16 {
    let sent = request
        .bearer_auth(token("users:write"))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    sent.map(|response| response.status().as_u16()).unwrap_or(0)
}

async fn patch_user(client: &reqwest::Client, url: &str, email: &str) -> u16 {
    send_status(
        client
            .patch(url)
            .json(&serde_json::json!({ "email": email })),
    )
    .await
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

/// The clients running while PostgreSQL goes away, each collecting what it got.
struct Load {
    running: Arc<AtomicBool>,
    creators: Vec<JoinHandle<Vec<Attempt>>>,
    readers: Vec<JoinHandle<Vec<u16>>>,
    /// Each PATCH: its user's URL, the email sent, the status.
    patchers: Vec<JoinHandle<Vec<(String, String, u16)>>>,
    /// Each DELETE: its URL, the status.
    deleters: Vec<JoinHandle<Vec<(String, u16)>>>,
}

/// What the clients got, once stopped.
#[derive(Default)]
struct Answers {
    attempts: Vec<Attempt>,
    reads: Vec<u16>,
    patches: Vec<(String, String, u16)>,
    deletes: Vec<(String, u16)>,
}

/// Creators that each create fresh users until stopped.
fn spawn_creators(
    client: &reqwest::Client,
    running: &Arc<AtomicBool>,
    users_url: &str,
) -> Vec<JoinHandle<Vec<Attempt>>> {
    (0..CREATORS)
        .map(|_| {
            let (client, running, url) = (client.clone(), running.clone(), users_url.to_owned());
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
        .collect()
}

/// Readers that each read the known user until stopped.
fn spawn_readers(
    client: &reqwest::Client,
    running: &Arc<AtomicBool>,
    known_url: &str,
) -> Vec<JoinHandle<Vec<u16>>> {
    (0..READERS)
        .map(|_| {
            let (client, running, url) = (client.clone(), running.clone(), known_url.to_owned());
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while running.load(Ordering::Relaxed) {
                    statuses.push(get_status(&client, &url).await);
                }
                statuses
            })
        })
        .collect()
}

/// Each patcher changes its own user's email again and again: 200 or 503.
async fn spawn_patchers(
    client: &reqwest::Client,
    running: &Arc<AtomicBool>,
    service: &RunningService,
) -> Vec<JoinHandle<Vec<(String, String, u16)>>> {
    let users_url = service.url("/users");
    let mut patched_urls = Vec::with_capacity(PATCHERS);
    for _ in 0..PATCHERS {
        let id = Uuid::now_v7();
        assert_eq!(
            post_user(
                client,
                &users_url,
                id,
                &format!("patched-{}@example.com", id.simple())
            )
            .await,
            201
        );
        patched_urls.push(service.url(&format!("/users/{id}")));
    }
    patched_urls
        .into_iter()
        .map(|url| {
            let (client, running) = (client.clone(), running.clone());
            tokio::spawn(async move {
                let mut attempts = Vec::new();
                while running.load(Ordering::Relaxed) {
                    let email = format!("patch-{}@example.com", Uuid::new_v4().simple());
                    let status = patch_user(&client, &url, &email).await;
                    attempts.push((url.clone(), email, status));
                }
                attempts
            })
        })
        .collect()
}

/// Users inserted directly for the deleters to delete; their ids.
async fn insert_deletable(database_url: &str) -> Vec<Uuid> {
    let mut database = PgConnection::connect(database_url)
        .await
        .expect("connecting");
    sqlx::query_scalar(
        "INSERT INTO users (id, email)
         SELECT gen_random_uuid(), 'deletable-' || n || '@example.com' FROM generate_series(1, $1) AS n
         RETURNING id",
    )
    .bind(DELETABLE)
    .fetch_all(&mut database)
    .await
    .expect("inserting the deletable users")
}

/// Each deleter deletes its share of `deletable`, each once: 204 or 503.
fn spawn_deleters(
    client: &reqwest::Client,
    running: &Arc<AtomicBool>,
    service: &RunningService,
    deletable: &[Uuid],
) -> Vec<JoinHandle<Vec<(String, u16)>>> {
    (0..DELETERS)
        .map(|deleter| {
            let (client, running) = (client.clone(), running.clone());
            let mine: Vec<String> = deletable
                .iter()
                .skip(deleter)
                .step_by(DELETERS)
                .map(|id| service.url(&format!("/users/{id}")))
                .collect();
            tokio::spawn(async move {
                let mut attempts = Vec::new();
                for url in mine {
                    if !running.load(Ordering::Relaxed) {
                        break;
                    }
                    let status = send_status(client.delete(&url)).await;
                    attempts.push((url, status));
                }
                attempts
            })
        })
        .collect()
}

impl Load {
    /// Stops the clients and collects what they got.
    async fn stop(self) -> Answers {
        self.running.store(false, Ordering::Relaxed);
        let mut answers = Answers::default();
        for creator in self.creators {
            answers
                .attempts
                .extend(creator.await.expect("a creator task"));
        }
        for reader in self.readers {
            answers.reads.extend(reader.await.expect("a reader task"));
        }
        for patcher in self.patchers {
            answers
                .patches
                .extend(patcher.await.expect("a patcher task"));
        }
        for deleter in self.deleters {
            answers
                .deletes
                .extend(deleter.await.expect("a deleter task"));
        }
        answers
    }
}

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
