//! `ferry shadow` on the project's own services: two Node baselines (primary and secondary)
//! and the Rust user-service (candidate) on one embedded PostgreSQL, replaying a generated
//! mix of the contract's read calls — users by id, lists, missing ids, bad ids. The two
//! implementations serve one contract, so there must be no regression; the request ids (in
//! the header and in error bodies) and the dates are noise.
//!
//! Needs `node` on the PATH and `npm ci` run in `baselines/node` (CI's setup step does it).
//! Ignored by default (an embedded PostgreSQL and three services: ~15 s);
//! `scripts/ci/shadow.sh` runs it.

use std::path::Path;
use std::process::{Command, Output};

use ferry::compare::database::Database;
use ferry::compare::targets::{Launch, Running};

use crate::support::workspace::{launch, repo, tool, user_service};

/// What every service of the test gets, as the default lab gives it: one database, one
/// secret, a small pool and one worker each; `{port}` is filled at each start.
fn service_env(database_url: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url),
        ("HOST", "127.0.0.1"),
        ("JWT_SECRET", "shadow-node-test-secret-of-32-bytes!"),
        ("DB_POOL_SIZE", "4"),
        ("WORKERS", "1"),
        ("PORT", "{port}"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value.to_string()))
    .chain([(
        "APP_CONFIG_DIR".to_string(),
        repo()
            .join("crates/user-service/config")
            .display()
            .to_string(),
    )])
    .collect()
}

#[test]
#[ignore = "needs Node and three services; scripts/ci/shadow.sh runs it"]
fn rust_answers_like_node_on_the_contracts_reads() {
    let node_dir = repo().join("baselines/node");
    assert!(
        node_dir.join("node_modules").is_dir(),
        "run npm ci in baselines/node first (CI runs it in its setup step)"
    );
    let binary = user_service(false);
    let scratch = std::env::temp_dir().join(format!("ferry-shadow-node-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut database = Database::start(None).expect("starting the embedded PostgreSQL");
    let env = service_env(&database.url);
    let rust_argv = [binary.to_str().expect("a UTF-8 target path"), "serve"];
    let rust = launch("rust", &rust_argv, &repo(), &env);
    let (ids, token) = seed(&binary, &env, &scratch);
    let running = start_services(rust, &node_dir, &env, &scratch);

    // The mix: users by id (also in upper case), lists and pages, missing ids, bad ids,
    // bad list parameters.
    let lines = mix(&ids);
    let requests = scratch.join("reads.txt");
    std::fs::write(&requests, lines.join("\n") + "\n").unwrap();
    let json = scratch.join("shadow.json");
    let auth = format!("Authorization: Bearer {}", token.trim());
    let output = shadow(&running, &requests, &auth, &json);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for target in running {
        let _ = target.stop();
    }
    let _ = database.stop();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["regression_count"], 0, "{stdout}");
    assert_eq!(report["requests"]["compared"], 120, "{}", report["errors"]);
    let noise: Vec<String> = report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|endpoint| endpoint["noise"].as_array().unwrap())
        .map(|field| {
            format!(
                "{} {}",
                field["field"].as_str().unwrap(),
                field["reason"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        noise.contains(&"header.x-request-id ignored".to_string()),
        "{noise:?}"
    );
    assert!(
        noise.contains(&"body.request_id secondary".to_string()),
        "{noise:?}"
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

/// Migrates and seeds the database: the seeded ids, and a token that reads them.
fn seed(binary: &Path, env: &[(String, String)], scratch: &Path) -> (Vec<String>, String) {
    tool(binary, env, &["migrate"]);
    let ids_file = scratch.join("ids.txt");
    tool(
        binary,
        env,
        &[
            "seed",
            "--users",
            "60",
            "--ids-file",
            &ids_file.display().to_string(),
        ],
    );
    let token = tool(
        binary,
        env,
        &["token", "--scope", "users:read", "--ttl", "1h"],
    );
    let ids: Vec<String> = std::fs::read_to_string(&ids_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    (ids, token)
}

/// The primary and secondary Node baselines and the Rust candidate, in that order, ready.
fn start_services(
    rust: Launch,
    node_dir: &Path,
    env: &[(String, String)],
    scratch: &Path,
) -> Vec<Running> {
    let node_argv = ["node", "src/main.js"];
    let mut running = Vec::new();
    for (spec, log) in [
        (
            launch("node-primary", &node_argv, node_dir, env),
            "primary.log",
        ),
        (
            launch("node-secondary", &node_argv, node_dir, env),
            "secondary.log",
        ),
        (rust, "candidate.log"),
    ] {
        let mut target = spec.spawn(&scratch.join(log)).expect("starting a service");
        target.wait_ready().expect("the service gets ready");
        running.push(target);
    }
    running
}

/// 120 reads, drawn with a fixed seed.
fn mix(ids: &[String]) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(12);
    let mut lines = Vec::new();
    for _ in 0..120 {
        let line = match rng.u8(..10) {
            0..=3 => format!("GET /users/{}", ids[rng.usize(..ids.len())]),
            4 => format!("GET /users/{}", ids[rng.usize(..ids.len())].to_uppercase()),
            5 => format!("GET /users?limit={}", rng.u8(1..=100)),
            6 => "GET /users".to_string(),
            7 => format!(
                "GET /users/{:08x}-0000-4000-8000-{:012x}",
                rng.u32(..),
                rng.u64(..1 << 48)
            ),
            8 => [
                "GET /users/not-a-uuid",
                "GET /users/123",
                "GET /users/{abc}",
            ][rng.usize(..3)]
            .to_string(),
            _ => [
                "GET /users?limit=0",
                "GET /users?limit=101",
                "GET /users?after=garbage",
            ][rng.usize(..3)]
            .to_string(),
        };
        lines.push(line);
    }
    lines
}

/// `ferry shadow` of `requests` with the same token to all three services.
fn shadow(running: &[Running], requests: &Path, auth: &str, json: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("shadow")
        .args(["--primary", &running[0].base_url()])
        .args(["--secondary", &running[1].base_url()])
        .args(["--candidate", &running[2].base_url()])
        .arg("--requests")
        .arg(requests)
        .args([
            "--header-primary",
            auth,
            "--header-secondary",
            auth,
            "--header-candidate",
            auth,
        ])
        .args(["-c", "4", "--no-progress", "--json"])
        .arg(json)
        .output()
        .expect("running ferry shadow")
}
