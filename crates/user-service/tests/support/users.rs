//! What every test binary of the crate shares: the test secret, a token for it, and a
//! user created over HTTP. Included by path by `service/support.rs`, `lifecycle/running.rs`
//! and `running/mod.rs` (the overload binary's).

use std::time::Duration;

pub const JWT_SECRET: &str = "lifecycle-test-secret-0123456789abcdef";

/// A token for the test secret.
pub fn token(scope: &str) -> String {
    let settings = kit::config::AuthSettings {
        jwt_secret: Some(JWT_SECRET.into()),
        ..Default::default()
    };
    kit::auth::JwtVerifier::from_settings(&settings, kit::config::Environment::Test)
        .and_then(|verifier| verifier.mint("test", scope, Duration::from_secs(600)))
        .expect("HS256 tokens can be minted with a secret")
}

/// Creates a user with a unique email at `base`; returns its id.
pub async fn create_user_at(client: &reqwest::Client, base: &str) -> String {
    let response = client
        .post(format!("{base}/users"))
        .bearer_auth(token("users:write"))
        .json(&serde_json::json!({ "email": format!("{}@example.com", uuid::Uuid::new_v4()) }))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), 201, "creating a user");
    let body: serde_json::Value = response.json().await.expect("a JSON user");
    body["id"].as_str().expect("the user has an id").to_owned()
}
