//! `ferry compare --plan`: the plan and its wall time from the lab and the presets alone,
//! with nothing started and nothing written.

use std::path::{Path, PathBuf};
use std::process::Command;

fn static_lab() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../labs/static/lab.toml")
}

fn plan(args: &[&str]) -> String {
    let out = std::env::temp_dir().join(format!("ferry-plan-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["compare", "--plan", "--lab"])
        .arg(static_lab())
        .arg("--out")
        .arg(&out)
        .args(args)
        .output()
        .expect("running the ferry binary cargo built for this test");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!out.exists(), "--plan runs nothing and writes nothing");
    String::from_utf8(output.stdout).expect("the plan is text")
}

#[test]
fn thorough_plans_a_minute_per_run_three_rounds_and_a_long_run() {
    let text = plan(&["--thorough"]);
    assert!(
        text.contains("target nginx            baseline  started by ferry"),
        "{text}"
    );
    assert!(
        text.contains(
            "scenario get              3 round(s) × 2 target(s) × (2.0 s warm-up + 60.0 s)"
        ),
        "{text}"
    );
    // The relative schedule's 3 s step stretches to the 60 s run.
    assert!(
        text.contains(
            "scenario get-steady       3 round(s) × 2 target(s) × (2.0 s warm-up + 60.0 s)"
        ),
        "{text}"
    );
    assert!(
        text.contains("long run: get for 300 s on each target"),
        "{text}"
    );
    // 2 scenarios × 3 rounds × 2 targets × 62 s + 5 probes × 2 targets × (1 + 36) s + 10 cold
    // starts × 1 s + 1 s + 2 targets × 302 s.
    assert!(text.contains("Estimated wall time: 28 min 49 s"), "{text}");
}

#[test]
fn the_default_plan_uses_each_scenarios_own_duration() {
    let text = plan(&[]);
    assert!(
        text.contains(
            "scenario get              2 round(s) × 2 target(s) × (2.0 s warm-up + 3.0 s)"
        ),
        "{text}"
    );
    assert!(
        text.contains("capacity of get           5 probe(s)"),
        "{text}"
    );
    assert!(!text.contains("long run"), "{text}");
    let quick = plan(&["--quick", "--targets", "python"]);
    assert!(
        quick.contains("1 round(s) × 1 target(s) × (0.5 s warm-up + 1.5 s)"),
        "{quick}"
    );
    assert!(!quick.contains("target nginx"), "{quick}");
}
