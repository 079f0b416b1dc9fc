//! The read-through cache stays coherent: read-your-writes on one instance under
//! concurrent reads, and a write through one instance reaches another instance's cache
//! through PostgreSQL LISTEN/NOTIFY.

use std::time::{Duration, Instant};

use crate::support::{create_user_at as create, spawn_app, token};

fn with_cache(ttl_secs: u64) -> impl FnOnce(&mut user_service::settings::Settings) {
    move |settings| {
        settings.cache.enabled = true;
        settings.cache.ttl_secs = ttl_secs;
    }
}

async fn email_of(client: &reqwest::Client, base: &str, id: &str) -> String {
    let response = client
        .get(format!("{base}/users/{id}"))
        .bearer_auth(token("users:read"))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    let user: serde_json::Value = response.json().await.expect("a JSON user");
    user["email"].as_str().expect("an email").to_owned()
}

/// PATCHes a fresh email starting with `prefix`; returns it.
async fn set_email(client: &reqwest::Client, base: &str, id: &str, prefix: &str) -> String {
    let email = format!("{prefix}-{}@example.com", uuid::Uuid::new_v4().simple());
    let response = client
        .patch(format!("{base}/users/{id}"))
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), 200);
    email
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_then_get_reads_the_write_under_concurrent_reads() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    // A long TTL: only invalidation can make a read fresh.
    let base = spawn_app(&database_url, with_cache(600)).await;
    let client = reqwest::Client::new();
    let id = create(&client, &base).await;

    // Readers hammer the same id the whole time, so loads race the writes.
    let readers: Vec<_> = (0..6)
        .map(|_| {
            let (client, base, id) = (client.clone(), base.clone(), id.clone());
            tokio::spawn(async move {
                for _ in 0..300 {
                    email_of(&client, &base, &id).await;
                }
            })
        })
        .collect();
    for round in 0..60 {
        let email = set_email(&client, &base, &id, &format!("round-{round}")).await;
        assert_eq!(
            email_of(&client, &base, &id).await,
            email,
            "round {round}: the write is read back"
        );
    }
    for reader in readers {
        reader.await.expect("a reader task");
    }

    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    for counter in [
        "cache_hits_total",
        "cache_misses_total",
        "cache_invalidations_total",
    ] {
        assert!(metrics.contains(counter), "{counter} is exported");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_instance_reaches_the_cache_of_another() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let writer = spawn_app(&database_url, with_cache(600)).await;
    let reader = spawn_app(&database_url, with_cache(600)).await;
    let client = reqwest::Client::new();
    let mut delays = Vec::new();
    for round in 0..5 {
        let id = create(&client, &writer).await;
        let before = email_of(&client, &reader, &id).await;
        // Cached on the reader now: the same answer without a load.
        assert_eq!(email_of(&client, &reader, &id).await, before);

        let email = set_email(&client, &writer, &id, &format!("moved-{round}")).await;
        let written = Instant::now();
        loop {
            if email_of(&client, &reader, &id).await == email {
                delays.push(written.elapsed());
                break;
            }
            // With a 600 s TTL only the notification can refresh the reader.
            assert!(
                written.elapsed() < Duration::from_secs(10),
                "the other instance never saw the write"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }

        let response = client
            .delete(format!("{writer}/users/{id}"))
            .bearer_auth(token("users:write"))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 204);
        let deleted = Instant::now();
        loop {
            let status = client
                .get(format!("{reader}/users/{id}"))
                .bearer_auth(token("users:read"))
                .send()
                .await
                .expect("answer")
                .status();
            if status == 404 {
                break;
            }
            assert!(
                deleted.elapsed() < Duration::from_secs(10),
                "the other instance kept a deleted user"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    delays.sort();
    eprintln!("cross-instance invalidation delays: {delays:?}");
}

/// A read replica that never catches up (the limit of replication lag): a second
/// database holding the same user as it was before the write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_lagging_replica_the_cache_is_filled_from_the_primary() {
    use sqlx::{Connection, Executor};
    let primary = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let replica = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let id = uuid::Uuid::now_v7();
    for url in [&primary, &replica] {
        let mut connection = sqlx::PgConnection::connect(url).await.expect("connecting");
        connection
            .execute(
                format!(
                    "INSERT INTO users (id, email, created_at, updated_at) \
                     VALUES ('{id}', 'before@example.com', '2026-01-01Z', '2026-01-01Z')"
                )
                .as_str(),
            )
            .await
            .expect("the same user on both");
    }
    let base = spawn_app(&primary, move |settings| {
        with_cache(600)(settings);
        settings.database.shared.read_url = Some(replica);
    })
    .await;
    let client = reqwest::Client::new();
    let id = id.to_string();
    assert_eq!(email_of(&client, &base, &id).await, "before@example.com");
    let written = set_email(&client, &base, &id, "after").await;
    // The PATCH invalidated the entry; the miss that follows must not cache the
    // replica's old row for the 600 s TTL.
    for _ in 0..3 {
        assert_eq!(email_of(&client, &base, &id).await, written);
    }
}
