//! `database.read_path = "pool"`: the textbook design (point reads through the SQLx pool, no
//! pipelining, no cache) serves the same answers, and a write is read back at once even with
//! the cache switched on, because that read path has none.

use crate::support::{spawn_app, token};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_reads_serve_users_and_their_writes() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = spawn_app(&database_url, |settings| {
        settings.database.read_path = user_service::settings::ReadPath::Pool;
        // Ignored on the pool path: a stale cached read would fail the last assertion.
        settings.cache.enabled = true;
        settings.cache.ttl_secs = 3600;
    })
    .await;
    let client = reqwest::Client::new();
    let created: serde_json::Value = client
        .post(format!("{base}/users"))
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "email": "pool-read@example.com" }))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("a JSON user");
    let id = created["id"].as_str().expect("an id");
    let read = |path: String| {
        let client = client.clone();
        async move {
            client
                .get(path)
                .bearer_auth(token("users:read"))
                .send()
                .await
                .expect("answer")
        }
    };
    let found = read(format!("{base}/users/{id}")).await;
    assert_eq!(found.status(), 200);
    let user: serde_json::Value = found.json().await.expect("a JSON user");
    assert_eq!(user["email"], "pool-read@example.com");
    let missing = read(format!("{base}/users/{}", uuid::Uuid::now_v7())).await;
    assert_eq!(missing.status(), 404);

    let patched = client
        .patch(format!("{base}/users/{id}"))
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "email": "pool-read-2@example.com" }))
        .send()
        .await
        .expect("answer");
    assert_eq!(patched.status(), 200);
    let again: serde_json::Value = read(format!("{base}/users/{id}"))
        .await
        .json()
        .await
        .expect("a JSON user");
    assert_eq!(again["email"], "pool-read-2@example.com");
}

#[test]
fn read_path_is_read_from_the_environment_name() {
    use user_service::settings::{DatabaseSettings, ReadPath};
    let settings: DatabaseSettings =
        serde_json::from_str(r#"{"read_path": "pool"}"#).expect("pool is a read path");
    assert_eq!(settings.read_path, ReadPath::Pool);
    assert!(serde_json::from_str::<DatabaseSettings>(r#"{"read_path": "cached"}"#).is_err());
}
