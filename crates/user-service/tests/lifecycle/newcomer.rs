//! The newcomer's path, on the real binary with the embedded PostgreSQL (no
//! DATABASE_URL, no JWT_SECRET): seed, serve, mint a token, read a seeded user, stop.
//! Also: bad configuration stops start-up with a message naming the key.

use std::time::Duration;

use crate::running::{RunningService, command};
use nix::sys::signal::Signal;

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

/// Removes the cluster a private checkout's `.data/postgres` links to (in the `postgres`
/// user's home, as root), which outlives the checkout otherwise.
struct RelocatedCluster(std::path::PathBuf);

impl Drop for RelocatedCluster {
    fn drop(&mut self) {
        if let Ok(target) = std::fs::read_link(&self.0) {
            let _ = std::fs::remove_dir_all(&target);
            let _ = std::fs::remove_file(target.with_extension("log"));
        }
    }
}

/// Issue 11, item 8: as root, a checkout the `postgres` user cannot enter (in /root, or a
/// `mktemp -d` directory) once failed `seed` with initdb's "Permission denied".
#[test]
fn seed_works_in_a_checkout_the_postgres_user_cannot_enter() {
    use std::os::unix::fs::PermissionsExt;
    let directory = tempfile::tempdir().expect("a temporary directory");
    let cwd = directory.path();
    std::fs::set_permissions(cwd, std::fs::Permissions::from_mode(0o700))
        .expect("making the checkout private, as mktemp -d does");
    let _cleanup = RelocatedCluster(cwd.join(".data/postgres"));
    let seeded = command(cwd, &["seed", "--users", "10"], &[])
        .output()
        .expect("running seed");
    assert!(
        seeded.status.success(),
        "seed failed: {}{}",
        String::from_utf8_lossy(&seeded.stdout),
        String::from_utf8_lossy(&seeded.stderr)
    );
    assert!(String::from_utf8_lossy(&seeded.stdout).contains("seeded 10 users"));
    assert!(
        cwd.join(".data/postgres/PG_VERSION").exists(),
        "the cluster is found in .data/postgres"
    );
    let mode = std::fs::metadata(cwd)
        .expect("the checkout")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o700,
        "the checkout's permissions are left alone"
    );
}
