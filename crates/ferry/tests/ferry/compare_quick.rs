//! `ferry compare --quick` end to end on the default lab (ferry-lab.toml): real services (the
//! Node baseline and the release user-service, each twice, textbook and shipped), a real embedded
//! PostgreSQL, real load. Checks the JSON has every scenario for every target with
//! throughput and no errors on valid requests, capacity where the lab asks, the cost section,
//! and that the HTML report renders in headless Chromium with its charts (screenshot kept in
//! target/test-artifacts/). Timing is never asserted.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::browser;
use crate::support::workspace::{release_user_service, repo};

/// Beside every money figure: the region and date of the built-in prices.
const PRICES_BASIS: &str = "containers: Fargate, Linux, us-east-1, prices of 2025-08-28 · \
                            functions: Lambda, us-east-1, prices of 2025-10-01";

#[test]
fn quick_compare_measures_every_scenario_for_every_target() {
    let node_dir = repo().join("baselines/node");
    assert!(
        node_dir.join("node_modules").is_dir(),
        "run npm ci in baselines/node first (CI runs it in its setup step)"
    );
    let rust_bin = release_user_service();
    let out = std::env::temp_dir().join(format!("ferry-compare-quick-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    compare_prints_the_matrix_verdict_and_cost(&out, &rust_bin);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["complete"], true, "{}", json["failure"]);
    let targets = json["targets"].as_array().unwrap();
    every_target_and_its_settings(&json, targets);
    for target in targets {
        every_scenario_measured(target);
        cold_start_and_capacity(target);
    }
    cost_section(&json, targets);
    report_renders_with_its_charts(&out);
    ferry_cost_prices_alike(&out, &json, targets);
    let _ = std::fs::remove_dir_all(&out);
}

/// Runs `ferry compare --quick` into `out` and checks what it prints.
fn compare_prints_the_matrix_verdict_and_cost(out: &Path, rust_bin: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["compare", "--quick", "--no-progress", "--out"])
        .arg(out)
        // Built above into this test's target directory: the lab's build step is skipped.
        .args(["--set", "vars.build=true", "--set"])
        .arg(format!("vars.user_service={}", rust_bin.display()))
        .current_dir(repo())
        .env_remove("DATABASE_URL")
        .output()
        .expect("running the ferry binary cargo built for this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ferry compare --quick failed:\n{stderr}\n{stdout}"
    );
    assert!(
        stdout.contains(
            "| metric | node | node-textbook | rust-textbook | rust | node-textbook / node | rust-textbook / node | rust / node |"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("**Verdict**"), "{stdout}");
    // The cost table follows the matrix, as `ferry cost` prints it, under the region and
    // date of its prices.
    assert!(
        stdout.contains("**Cost**") && stdout.contains("docs/prices/aws-2025.toml"),
        "{stdout}"
    );
    assert!(stdout.contains(PRICES_BASIS), "{stdout}");
}

fn every_target_and_its_settings(json: &Value, targets: &[Value]) {
    let names: Vec<&str> = targets
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["node", "node-textbook", "rust-textbook", "rust"]);
    let roles: Vec<&str> = targets
        .iter()
        .map(|t| t["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["baseline", "candidate", "candidate", "candidate"]);
    assert_eq!(json["schema_version"], 3);
    assert_eq!(
        json["lab"]["vars"]["users"], 1000,
        "a number stays a number"
    );
    // post-user writes: every run starts from the data setup left.
    assert_eq!(json["settings"]["database_reset"], "on");
}

/// Every scenario of `target`, with throughput, no error and CPU/RSS samples.
fn every_scenario_measured(target: &Value) {
    let name = target["name"].as_str().unwrap();
    let scenarios: Vec<&str> = target["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        scenarios,
        ["get-user", "get-user-burst", "post-user", "process"],
        "{name}"
    );
    for scenario in target["scenarios"].as_array().unwrap() {
        let key = scenario["scenario"].as_str().unwrap();
        let summary = &scenario["summary"];
        assert!(
            summary["throughput_rps"].as_f64().unwrap() > 0.0,
            "{name} {key}: no throughput"
        );
        // Every request is valid (seeded ids, unique emails, a well-formed batch), so
        // any error status or transport error is a defect in a target or in ferry.
        assert_eq!(scenario["valid"], true, "{name} {key}");
        for round in scenario["rounds"].as_array().unwrap() {
            let totals = &round["result"]["totals"];
            assert_eq!(
                totals["error_count"], 0,
                "{name} {key}: errors {}, statuses {}",
                totals["errors"], totals["status"]
            );
            assert!(
                !round["samples"].as_array().unwrap().is_empty(),
                "{name} {key}: no CPU/RSS samples"
            );
        }
        assert!(
            summary["rss_peak_bytes"].as_u64().unwrap() > 0,
            "{name} {key}"
        );
    }
}

/// `target`'s cold start, and a capacity search exactly where the lab asks for one.
fn cold_start_and_capacity(target: &Value) {
    let name = target["name"].as_str().unwrap();
    let cold = &target["cold_start"];
    assert_eq!(cold["samples_ms"].as_array().unwrap().len(), 2, "{name}");
    assert!(cold["idle_rss_bytes"].as_u64().unwrap() > 0, "{name}");
    for scenario in target["scenarios"].as_array().unwrap() {
        let key = scenario["scenario"].as_str().unwrap();
        let searched = !scenario["capacity"].is_null();
        assert_eq!(
            searched,
            key == "get-user" || key == "process",
            "{name} {key}"
        );
        if searched {
            let probes = scenario["capacity"]["probes"].as_array().unwrap();
            assert_eq!(probes.len(), 2, "{name} {key}: --quick probes twice");
            assert!(
                probes
                    .iter()
                    .all(|p| p["rss_peak_bytes"].as_u64().unwrap() > 0)
            );
        }
    }
}

/// One top-level section holds the instance counts, per capacity scenario and target.
fn cost_section(json: &Value, targets: &[Value]) {
    let cost = &json["cost"];
    assert_eq!(cost["baseline"], "node");
    let sized: Vec<&str> = cost["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(sized, ["get-user", "process"]);
    assert!(targets.iter().all(|t| t.get("instances").is_none()));
    assert_eq!(cost["settings"]["peak_rps"], cost["target_rps"], "{cost}");
    assert!(cost["prices"]["file"].is_string(), "{cost}");
}

/// The report renders, with its charts drawn.
fn report_renders_with_its_charts(out: &Path) {
    let html = out.join("compare.html");
    let dom = browser::render(&html, "compare-report.png", "1200,3000");
    // 2 cold-start bar charts and two per capacity scenario (capacity, monthly cost), then
    // per scenario CPU, RSS and the load report's 4 charts.
    assert_eq!(
        dom.matches("<svg").count(),
        2 + 2 * 2 + 4 * 6,
        "every chart is there"
    );
    assert!(
        dom.matches("<polyline").count() >= 4 * 6 * 2,
        "the lines are drawn"
    );
    assert!(dom.matches("<rect").count() >= 4, "the bars are drawn");
    for title in [
        "Cold start",
        "Capacity at the SLO",
        "Monthly cost",
        PRICES_BASIS,
        "CPU of the process tree",
        "RSS of the process tree",
        "Latency by percentile",
        "Responses per second",
    ] {
        assert!(dom.contains(title), "missing {title}");
    }
}

/// The real compare.json flows into `ferry cost`, which prices every target, and prices
/// it as compare did.
fn ferry_cost_prices_alike(out: &Path, json: &Value, targets: &[Value]) {
    let cost_json = out.join("cost.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("cost")
        .arg(out.join("compare.json"))
        .arg("--json")
        .arg(&cost_json)
        .output()
        .expect("running ferry cost");
    let cost_stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ferry cost failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        cost_stdout.contains("docs/prices/aws-2025.toml"),
        "{cost_stdout}"
    );
    let cost: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cost_json).unwrap()).unwrap();
    let priced = cost["targets"].as_array().unwrap();
    assert_eq!(priced.len(), targets.len(), "{cost}");
    assert_eq!(
        priced.iter().filter(|t| t["role"] == "baseline").count(),
        1,
        "{cost}"
    );
    for target in priced {
        let name = target["name"].as_str().unwrap();
        // A container cost, or the reason there is none (no probe held the SLO on a loaded
        // machine); a function cost always, from CPU per request and RSS.
        assert!(
            target["monthly_cost"].as_f64().is_some_and(|c| c > 0.0)
                || target["reason"].is_string(),
            "{name}: {target}"
        );
        assert!(
            target["function_monthly_cost"].as_f64().unwrap() > 0.0,
            "{name}: {target}"
        );
    }
    same_figures_as_compare(&cost, json);
}

/// compare priced its own report with the same code and defaults: the same figures.
fn same_figures_as_compare(cost: &Value, json: &Value) {
    let priced_scenarios = cost["scenarios"].as_array().unwrap();
    let compared_scenarios = json["cost"]["scenarios"].as_array().unwrap();
    assert_eq!(priced_scenarios.len(), compared_scenarios.len(), "{cost}");
    for (priced, compared) in priced_scenarios.iter().zip(compared_scenarios) {
        assert_eq!(priced["scenario"], compared["scenario"]);
        for (mine, theirs) in priced["targets"]
            .as_array()
            .unwrap()
            .iter()
            .zip(compared["targets"].as_array().unwrap())
        {
            for field in ["name", "instances", "monthly_cost", "function_monthly_cost"] {
                assert_eq!(mine[field], theirs[field], "{field}: {mine} vs {theirs}");
            }
        }
    }
}
