//! Keyset pagination walks a table with no duplicate and no gap while rows are being
//! inserted concurrently, on the in-process app (port 0, its own database).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{Connection, Executor, PgConnection};

use crate::support::{spawn_app, token};

/// 300 users; groups of ten share a timestamp, so the id tie-break is exercised.
/// Returns their ids.
async fn insert_users_to_walk(database_url: &str) -> HashSet<String> {
    let mut connection = PgConnection::connect(database_url)
        .await
        .expect("connecting");
    connection
        .execute(
            "INSERT INTO users (id, email, created_at, updated_at)
             SELECT gen_random_uuid(), 'walk-' || g || '@example.com',
                    date_trunc('second', now()) - (g / 10) * interval '1 ms', now()
             FROM generate_series(1, 300) AS g",
        )
        .await
        .expect("inserting the users to walk");
    sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM users")
        .fetch_all(&mut connection)
        .await
        .expect("reading ids")
        .into_iter()
        .map(|id| id.to_string())
        .collect()
}

/// Creates users at `base` until `writing` is cleared; how many.
fn spawn_writer(
    client: &reqwest::Client,
    base: &str,
    writing: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<usize> {
    let (client, base, writing) = (client.clone(), base.to_owned(), writing.clone());
    tokio::spawn(async move {
        let token = token("users:write");
        let mut created = 0;
        while writing.load(Ordering::Relaxed) {
            let response = client
                .post(format!("{base}/users"))
                .bearer_auth(&token)
                .json(&serde_json::json!({ "email": format!("new-{}@example.com", uuid::Uuid::new_v4()) }))
                .send()
                .await
                .expect("the service answers");
            assert_eq!(response.status(), 201);
            created += 1;
        }
        created
    })
}

/// Walks the list seven at a time; (created_at, id) of every item, in order.
async fn walk(client: &reqwest::Client, base: &str) -> Vec<(String, String)> {
    let read = token("users:read");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut request = client
            .get(format!("{base}/users"))
            .bearer_auth(&read)
            .query(&[("limit", "7")]);
        if let Some(cursor) = &after {
            request = request.query(&[("after", cursor)]);
        }
        let page: serde_json::Value = request
            .send()
            .await
            .expect("answer")
            .json()
            .await
            .expect("a JSON page");
        let items = page["items"].as_array().expect("items is an array");
        assert!(items.len() <= 7);
        for item in items {
            seen.push((
                item["created_at"].as_str().expect("created_at").to_owned(),
                item["id"].as_str().expect("id").to_owned(),
            ));
        }
        match page["next"].as_str() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => break,
        }
    }
    seen
}

#[tokio::test]
async fn walk_sees_every_existing_row_once_while_rows_are_inserted() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = spawn_app(&database_url, |_| {}).await;
    let existing = insert_users_to_walk(&database_url).await;

    let client = reqwest::Client::new();
    let writing = Arc::new(AtomicBool::new(true));
    let writer = spawn_writer(&client, &base, &writing);
    let seen = walk(&client, &base).await;
    writing.store(false, Ordering::Relaxed);
    let created = writer.await.expect("the writer task");
    assert!(created > 0, "rows were inserted during the walk");

    let ids: Vec<&String> = seen.iter().map(|(_, id)| id).collect();
    let unique: HashSet<&String> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no user appears twice");
    let missing: Vec<&String> = existing.iter().filter(|id| !unique.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "every user that existed before the walk is seen: {} missing",
        missing.len()
    );
    // Newest first: (created_at, id) strictly decreasing (RFC 3339 with fixed
    // milliseconds and lowercase ids both sort as text).
    for pair in seen.windows(2) {
        assert!(
            pair[0] > pair[1],
            "order broken between {:?} and {:?}",
            pair[0],
            pair[1]
        );
    }
}
