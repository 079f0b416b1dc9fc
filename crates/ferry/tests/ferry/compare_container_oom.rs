//! `ferry compare` with a container target that runs out of memory: the Node baseline image
//! (`localhost/node-baseline:dev`, scripts/images.sh, or `NODE_BASELINE_IMAGE`) limited to
//! 64 MiB, its command replaced by a small server that keeps 1 MiB more for every
//! `GET /grow`, so that any load kills it. The scenario's rounds make it invalid (exit status
//! 5, its reason naming the OOM kill); the memory its capacity probes keep adds up (no
//! database, so no restart between them) until one is killed: that probe names the OOM kill
//! in `oom_kill` and fails on it, and the report's probe table says "fail (OOM kill)". No
//! container is left behind. Ignored by default: it needs podman and the image;
//! scripts/ci/images.sh runs it after building them.

use serde_json::Value;

use crate::support::containers::{left_behind, run_lab};

fn image() -> String {
    std::env::var("NODE_BASELINE_IMAGE").unwrap_or_else(|_| "localhost/node-baseline:dev".into())
}

/// The server: `GET /ready` answers 200, each `GET /grow` keeps 1 MiB more (filled, so that
/// its pages count) in a global array. Its braces are text to the lab, not placeholders.
const SERVER: &str = r#"const kept = []; require("http").createServer((request, response) => { if (request.url === "/grow") { kept.push(Buffer.alloc(1048576, 1)); } response.end("ok"); }).listen(Number(process.env.PORT), "127.0.0.1");"#;

/// A lab of one container target at 64 MiB and a scenario that grows it, with capacity.
fn lab() -> String {
    format!(
        r#"name = "a container that runs out of memory"

[[target]]
name = "grower"
role = "baseline"
env = {{ PORT = "{{port}}" }}
ready = "/ready"
start = ["node", "-e", '{SERVER}']

[target.container]
image = "{image}"
cpus = 1.0
memory = "64m"

[[scenario]]
name = "grow"
request = "GET /grow"
connections = 4
capacity = true
"#,
        image = image(),
    )
}

#[test]
#[ignore = "needs podman and the node-baseline image: scripts/ci/images.sh builds it and runs this"]
fn an_oom_kill_fails_the_capacity_probe_and_names_it() {
    // The range is 1–15/s (the rounds, killed, served none); five probes there keep about
    // 100 MiB in all, the target restarted only by an OOM kill.
    let (dir, output) = run_lab("compare-oom", &lab(), &["--capacity-probes", "5"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("ferry compare: {}\n{stderr}", output.status);
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/compare.json"))
            .unwrap_or_else(|error| panic!("no compare.json ({error}):\n{stderr}")),
    )
    .unwrap();
    let scenario = &json["targets"][0]["scenarios"][0];
    println!(
        "scenario: valid {}, invalid_reason {}",
        scenario["valid"], scenario["invalid_reason"]
    );
    assert_eq!(
        output.status.code(),
        Some(5),
        "an invalid scenario's status:\n{stderr}"
    );
    assert_eq!(scenario["valid"], false);
    assert!(
        scenario["invalid_reason"]
            .as_str()
            .is_some_and(|reason| reason.contains("OOM kill")),
        "{}",
        scenario["invalid_reason"]
    );
    let probes = scenario["capacity"]["probes"].as_array().unwrap();
    for probe in probes {
        println!(
            "probe at {}/s: passed {}, error_ratio {}, p99_us {}, rss_peak_bytes {}, oom_kill {}",
            probe["rate_rps"],
            probe["passed"],
            probe["error_ratio"],
            probe["p99_us"],
            probe["rss_peak_bytes"],
            probe["oom_kill"]
        );
        assert!(
            probe.get("oom_kill").is_some(),
            "oom_kill is always written"
        );
        if !probe["oom_kill"].is_null() {
            assert_eq!(probe["passed"], false, "an OOM-killed probe fails: {probe}");
        }
    }
    let killed = probes
        .iter()
        .filter(|probe| {
            probe["oom_kill"]
                .as_str()
                .is_some_and(|reason| reason.contains("OOM"))
        })
        .count();
    assert!(killed > 0, "a probe names the OOM kill: {probes:?}");
    let html = std::fs::read_to_string(dir.join("out/compare.html")).unwrap();
    assert!(html.contains("fail (OOM kill)"), "the probe table says so");
    assert_eq!(left_behind("grower"), "", "no container is left behind");
    let _ = std::fs::remove_dir_all(&dir);
}
