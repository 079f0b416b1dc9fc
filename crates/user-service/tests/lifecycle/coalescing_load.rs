//! The load of `coalescing_faults`: creators, readers, patchers and deleters of the
//! real binary's users API, each collecting the statuses it got until stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::running::{RunningService, token};

/// Concurrent clients of each kind: enough that batches form.
const CREATORS: usize = 16;
const READERS: usize = 16;
pub const PATCHERS: usize = 16;
const DELETERS: usize = 16;
/// Users inserted for the deleters to delete, each at most once.
const DELETABLE: i64 = 20_000;

/// One create: its id and email, and the status it got (0: no HTTP answer within 15 s).
pub struct Attempt {
    pub id: Uuid,
    pub email: String,
    pub status: u16,
}

pub async fn post_user(client: &reqwest::Client, url: &str, id: Uuid, email: &str) -> u16 {
    let sent = client
        .post(url)
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "id": id, "email": email }))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    sent.map(|response| response.status().as_u16()).unwrap_or(0)
}

pub async fn send_status(request: reqwest::RequestBuilder) -> u16 {
    let sent = request
        .bearer_auth(token("users:write"))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    sent.map(|response| response.status().as_u16()).unwrap_or(0)
}

pub async fn patch_user(client: &reqwest::Client, url: &str, email: &str) -> u16 {
    send_status(
        client
            .patch(url)
            .json(&serde_json::json!({ "email": email })),
    )
    .await
}

pub async fn get_status(client: &reqwest::Client, url: &str) -> u16 {
    let sent = client
        .get(url)
        .bearer_auth(token("users:read"))
        .timeout(Duration::from_secs(15))
        .send()
        .await;
    sent.map(|response| response.status().as_u16()).unwrap_or(0)
}

/// The clients running while PostgreSQL goes away, each collecting what it got.
pub struct Load {
    pub running: Arc<AtomicBool>,
    pub creators: Vec<JoinHandle<Vec<Attempt>>>,
    pub readers: Vec<JoinHandle<Vec<u16>>>,
    /// Each PATCH: its user's URL, the email sent, the status.
    pub patchers: Vec<JoinHandle<Vec<(String, String, u16)>>>,
    /// Each DELETE: its URL, the status.
    pub deleters: Vec<JoinHandle<Vec<(String, u16)>>>,
}

/// What the clients got, once stopped.
#[derive(Default)]
pub struct Answers {
    pub attempts: Vec<Attempt>,
    pub reads: Vec<u16>,
    pub patches: Vec<(String, String, u16)>,
    pub deletes: Vec<(String, u16)>,
}

/// Creators that each create fresh users until stopped.
pub fn spawn_creators(
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
pub fn spawn_readers(
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
pub async fn spawn_patchers(
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
pub async fn insert_deletable(database_url: &str) -> Vec<Uuid> {
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
pub fn spawn_deleters(
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
    pub async fn stop(self) -> Answers {
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
