//! `ferry shadow` on the project's own services: two Node baselines (primary and secondary)
//! and the Rust user-service (candidate) on one embedded PostgreSQL, replaying a generated
//! mix of the contract's read calls — users by id, lists, missing ids, bad ids. The two
//! implementations serve one contract, so there must be no regression; the request ids (in
//! the header and in error bodies) and the dates are noise.
//!
//! Needs `node` on the PATH and `npm ci` run in `baselines/node` (CI's setup step does it).
//! Ignored by default (an embedded PostgreSQL and three services: ~15 s);
//! `scripts/ci/shadow.sh` runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry::compare::database::Database;
use ferry::compare::targets::{TargetSpec, common_env};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/ferry sits two levels below the workspace root")
        .to_path_buf()
}

/// The debug user-service, built into this test's own target directory.
fn user_service() -> PathBuf {
    let target = Path::new(env!("CARGO_BIN_EXE_ferry"))
        .parent()
        .expect("cargo puts binaries in <target>/<profile>/");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "-p", "user-service", "--bin", "user-service"])
        .env(
            "CARGO_TARGET_DIR",
            target.parent().expect("<target>/<profile>"),
        )
        .current_dir(repo())
        .status()
        .expect("running cargo to build the user-service");
    assert!(status.success(), "cargo build -p user-service failed");
    target.join("user-service")
}

/// Runs a `user-service` subcommand with `spec`'s environment; returns its stdout.
fn tool(spec: &TargetSpec, args: &[&str]) -> String {
    let output = Command::new(&spec.program)
        .args(args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .output()
        .expect("running the user-service binary");
    assert!(
        output.status.success(),
        "user-service {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
#[ignore = "needs Node and three services; scripts/ci/shadow.sh runs it"]
fn rust_answers_like_node_on_the_contracts_reads() {
    let node_dir = repo().join("baselines/node");
    assert!(
        node_dir.join("node_modules").is_dir(),
        "run npm ci in baselines/node first (CI runs it in its setup step)"
    );
    let binary = user_service();
    let scratch = std::env::temp_dir().join(format!("ferry-shadow-node-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let mut database = Database::start(None).expect("starting the embedded PostgreSQL");
    let env = common_env(&database.url, "shadow-node-test-secret", 4, 1);
    let rust = TargetSpec::rust(&binary, &repo(), env.clone());
    tool(&rust, &["migrate"]);
    let ids_file = scratch.join("ids.txt");
    tool(
        &rust,
        &[
            "seed",
            "--users",
            "60",
            "--ids-file",
            &ids_file.display().to_string(),
        ],
    );
    let token = tool(&rust, &["token", "--scope", "users:read", "--ttl", "1h"]);
    let ids: Vec<String> = std::fs::read_to_string(&ids_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();

    let mut node = TargetSpec::node(&node_dir, env.clone());
    node.name = "node-primary".into();
    let mut running = Vec::new();
    for (spec, log) in [
        (node.clone(), "primary.log"),
        (
            TargetSpec {
                name: "node-secondary".into(),
                ..node
            },
            "secondary.log",
        ),
        (rust, "candidate.log"),
    ] {
        let mut target = spec.spawn(&scratch.join(log)).expect("starting a service");
        target.wait_ready().expect("the service gets ready");
        running.push(target);
    }

    // The mix: users by id (also in upper case), lists and pages, missing ids, bad ids,
    // bad list parameters.
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
    let requests = scratch.join("reads.txt");
    std::fs::write(&requests, lines.join("\n") + "\n").unwrap();
    let json = scratch.join("shadow.json");
    let auth = format!("Authorization: Bearer {}", token.trim());
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("shadow")
        .args(["--primary", &running[0].base_url()])
        .args(["--secondary", &running[1].base_url()])
        .args(["--candidate", &running[2].base_url()])
        .arg("--requests")
        .arg(&requests)
        .args([
            "--header-primary",
            &auth,
            "--header-secondary",
            &auth,
            "--header-candidate",
            &auth,
        ])
        .args(["-c", "4", "--no-progress", "--json"])
        .arg(&json)
        .output()
        .expect("running ferry shadow");
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
