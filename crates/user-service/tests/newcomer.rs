//! The newcomer's path, on the real binary with the embedded PostgreSQL (no
//! DATABASE_URL, no JWT_SECRET): seed, serve, mint a token, read a seeded user, stop.
//! Also: bad configuration stops start-up with a message naming the key.

mod running;

use std::time::Duration;

use nix::sys::signal::Signal;
use running::{RunningService, command};

#[tokio::test]
async fn seed_serve_token_and_read_on_the_embedded_database() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cwd = directory.path();

    let seeded = command(
        cwd,
        &["seed", "--users", "500", "--ids-file", "ids.txt"],
        &[],
    )
    .output()
    .expect("running seed");
    assert!(
        seeded.status.success(),
        "seed failed: {}{}",
        String::from_utf8_lossy(&seeded.stdout),
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(String::from_utf8_lossy(&seeded.stdout).contains("seeded 500 users"));
    assert!(
        cwd.join(".data/postgres/PG_VERSION").exists(),
        "the cluster lives in .data/postgres"
    );
    let ids = std::fs::read_to_string(cwd.join("ids.txt")).expect("the ids file");
    let ids: Vec<&str> = ids.lines().collect();
    assert_eq!(ids.len(), 500);

    let mut service = RunningService::start(cwd, &[]).await;
    let token = command(cwd, &["token", "--scope", "users:read"], &[])
        .output()
        .expect("running token");
    assert!(
        token.status.success(),
        "token failed: {}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).expect("a token is ASCII");

    let response = reqwest::Client::new()
        .get(service.url(&format!("/users/{}", ids[123])))
        .bearer_auth(token.trim())
        .send()
        .await
        .expect("the service answers");
    assert_eq!(
        response.status(),
        200,
        "a seeded user is served:\n{}",
        service.logs()
    );
    let user: serde_json::Value = response.json().await.expect("a JSON user");
    assert_eq!(user["id"], ids[123]);
    assert!(
        user["email"]
            .as_str()
            .is_some_and(|email| email.ends_with("-123@example.com"))
    );

    service.signal(Signal::SIGTERM);
    let status = service.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(status.code(), Some(0), "{}", service.logs());
    assert!(
        !cwd.join(".data/postgres/postmaster.pid").exists(),
        "the embedded PostgreSQL stops with the service"
    );
}

#[test]
fn bad_configuration_names_the_key() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    for (variable, value, key) in [
        ("APP_SERVER__PORT", "eighty", "server.port"),
        ("APP_DATABASE__POOL_SIZE", "0", "database.pool_size"),
        ("DATABASE_URL", "mysql://nope", "database.url"),
        ("APP_AUTH__ALGORITHM", "HS999", "auth.algorithm"),
        ("APP_LOG__FORMAT", "loud", "log.format"),
    ] {
        let output = command(
            directory.path(),
            &["migrate"],
            &[(variable, value.to_owned())],
        )
        .output()
        .expect("running the binary");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{variable}={value} must stop start-up"
        );
        // Keys from APP_* variables are shown in the variables' upper case.
        assert!(
            stderr.to_lowercase().contains(key),
            "{variable}={value}: the message names `{key}`:\n{stderr}"
        );
    }
}

#[test]
fn production_refuses_the_embedded_database() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let output = command(
        directory.path(),
        &["migrate"],
        &[
            ("APP_ENV", "production".to_owned()),
            (
                "JWT_SECRET",
                "a-production-secret-of-at-least-32-bytes".to_owned(),
            ),
        ],
    )
    .output()
    .expect("running the binary");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "production started on the embedded PostgreSQL"
    );
    assert!(
        stderr.contains("DATABASE_URL") && stderr.contains("production"),
        "the message names DATABASE_URL and production:\n{stderr}"
    );
    assert!(
        !directory.path().join(".data/postgres").exists(),
        "no cluster is created in production"
    );
}
