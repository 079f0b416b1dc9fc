//! `ferry compare` with a `[target.container]` target: the user-service image
//! (`localhost/user-service:dev`, scripts/images.sh, or `USER_SERVICE_IMAGE`) limited to
//! 0.5 CPU, under the CPU-bound `POST /api/v1/process`, against the lab's embedded
//! PostgreSQL reached through its socket directory. Whatever the load, the cgroup's counter
//! must show no more CPU than the limit gives: no `cpu_mean_percent` in `rounds[]`,
//! `summary` or `capacity.probes[]` above 55 % of one core. The report says it was a
//! container, with its image, limits and engine, and the engine's own start. No container
//! is left behind. Ignored by default: it needs podman and the image; scripts/ci/images.sh
//! runs it after building them.

use std::path::Path;

use serde_json::Value;

use crate::support::containers::{left_behind, run_lab};
use crate::support::workspace::release_user_service;

/// The most CPU a target limited to 0.5 CPU may show: the limit plus the counters' rounding.
const BOUND_PERCENT: f64 = 55.0;

fn image() -> String {
    std::env::var("USER_SERVICE_IMAGE").unwrap_or_else(|_| "localhost/user-service:dev".into())
}

/// A lab of one container target at 0.5 CPU and the CPU-bound scenario, with capacity.
fn lab(user_service: &Path) -> String {
    format!(
        r#"name = "a container at 0.5 CPU"
secrets = ["jwt_secret", "token"]

[vars]
user_service = "{bin}"

[database]
kind = "embedded"
pgbench = false

[env]
DATABASE_URL = "{{database_url}}"
JWT_SECRET = "{{jwt_secret}}"
WORKERS = "{{cores}}"

[[setup]]
name = "a random JWT secret"
run = ["sh", "-c", "od -An -N16 -tx1 /dev/urandom | tr -d ' \\n'"]
output = "jwt_secret"

[[setup]]
name = "migrate"
run = ["{{user_service}}", "migrate"]

[[setup]]
name = "mint a token"
run = ["{{user_service}}", "token", "--scope", "users:read users:write", "--ttl", "1h"]
output = "token"

[[setup]]
name = "write the batch"
run = ["{{user_service}}", "process-batch", "--records", "1000", "--out", "{{out}}/batch.json"]

[[target]]
name = "half"
role = "baseline"
env = {{ PORT = "{{port}}" }}
ready = "/health/ready"

[target.container]
image = "{image}"
cpus = 0.5
memory = "512m"

[[scenario]]
name = "process"
request = "POST /api/v1/process"
headers = {{ authorization = "Bearer {{token}}", content-type = "application/json" }}
body_file = "{{out}}/batch.json"
connections = 8
capacity = true
"#,
        bin = user_service.display(),
        image = image(),
    )
}

#[test]
#[ignore = "needs podman and the user-service image: scripts/ci/images.sh builds it and runs this"]
fn a_container_limited_to_half_a_cpu_never_shows_more() {
    let (dir, output) = run_lab("compare-container", &lab(&release_user_service()), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "ferry compare failed:\n{stderr}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/compare.json")).unwrap())
            .unwrap();
    let target = &json["targets"][0];
    assert_eq!(target["kind"], "container", "{target}");
    assert_eq!(target["container"]["image"], image());
    assert_eq!(target["container"]["cpus"], 0.5);
    assert_eq!(target["container"]["memory"], "512m");
    assert_eq!(target["container"]["engine"], "podman");
    assert!(
        target["cold_start"]["container_start_median_ms"].as_f64() > Some(0.0),
        "{}",
        target["cold_start"]
    );
    let scenario = &target["scenarios"][0];
    assert_eq!(scenario["valid"], true, "{}", scenario["invalid_reason"]);
    let mut readings = vec![(
        "summary".to_string(),
        &scenario["summary"]["cpu_mean_percent"],
    )];
    for round in scenario["rounds"].as_array().unwrap() {
        readings.push((
            format!("round {}", round["round"]),
            &round["cpu_mean_percent"],
        ));
    }
    let probes = scenario["capacity"]["probes"].as_array().unwrap();
    assert!(!probes.is_empty(), "the capacity search probed");
    for (index, probe) in probes.iter().enumerate() {
        readings.push((format!("probe {index}"), &probe["cpu_mean_percent"]));
    }
    for (what, value) in readings {
        let percent = value.as_f64().unwrap_or_else(|| panic!("{what}: {value}"));
        assert!(
            percent > 0.0 && percent <= BOUND_PERCENT,
            "{what}: {percent} % of one core, limited to 0.5 CPU"
        );
    }
    assert_eq!(left_behind("half"), "", "no container is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
