//! `ferry cost` on hand-made `compare.json` files, one in the lab's shape (roles, a capacity
//! per scenario, probes with CPU and RSS) and one in version 1's shape; every figure checked
//! below was worked out by hand from the fixture (the arithmetic is in the comments).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn cost(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("cost")
        .args(args)
        .output()
        .expect("running ferry");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn cost_json(args: &[&str]) -> (Value, String) {
    let out = std::env::temp_dir().join(format!(
        "ferry-cost-{}-{}.json",
        std::process::id(),
        fastrand::u32(..)
    ));
    let mut all: Vec<&str> = args.to_vec();
    let out_text = out.display().to_string();
    all.extend(["--json", &out_text]);
    let (ok, stdout, stderr) = cost(&all);
    assert!(ok, "{stderr}\n{stdout}");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    (json, stdout)
}

fn close(value: &Value, expected: f64) -> bool {
    value
        .as_f64()
        .is_some_and(|v| (v - expected).abs() < 1e-6 * (1.0 + expected.abs()))
}

fn target<'a>(targets: &'a Value, name: &str) -> &'a Value {
    targets
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no target {name}"))
}

#[test]
fn the_lab_shape_is_priced_by_hand() {
    let lab = fixture("compare-lab.json");
    let (json, stdout) = cost_json(&[lab.to_str().unwrap()]);
    // One 2 vCPU / 4 GB task: 2 × 0.04048 + 4 × 0.004445 = $0.09874 an hour, $72.0802 a month.
    let task_month = 0.09874 * 730.0;
    assert_eq!(
        json["settings"]["peak_rps"], 10000.0,
        "from the file's target_rps"
    );
    let scenarios: Vec<&str> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(
        scenarios,
        ["get-user", "process"],
        "the capacity scenarios, in order"
    );
    // The top-level targets price the first capacity scenario.
    assert_eq!(json["targets"], json["scenarios"][0]["targets"]);

    get_user_priced(&json["scenarios"][0]["targets"], task_month);
    process_priced(&json["scenarios"][1]["targets"], task_month);
    prices_named(&json, &stdout);
}

/// The first capacity scenario, by hand: containers for each target, functions for Node,
/// and no container cost where no probe held the SLO.
fn get_user_priced(get_user: &Value, task_month: f64) {
    let node = target(get_user, "node");
    // ⌈10,000 × 1.3 / 3,000⌉ = ⌈4.33⌉ = 5; 1.9 cores and 320 MiB → 2 vCPU, 4 GB.
    assert_eq!(node["role"], "baseline");
    assert_eq!(node["capacity_rps"], 3000.0);
    assert_eq!(node["instances"], 5);
    assert_eq!(node["size"]["vcpu"], 2.0);
    assert_eq!(node["size"]["memory_gb"], 4.0);
    assert!(
        close(&node["monthly_cost"], 5.0 * task_month),
        "{}",
        node["monthly_cost"]
    );
    assert!(node["monthly_saving"].is_null());
    let rust = target(get_user, "rust");
    // ⌈13,000 / 13,000⌉ = 1, floored at 2 instances: saving 3 tasks a month.
    assert_eq!(rust["instances"], 2);
    assert!(close(&rust["monthly_cost"], 2.0 * task_month));
    assert!(close(&rust["monthly_saving"], 3.0 * task_month));
    assert!(close(&rust["yearly_saving"], 36.0 * task_month));
    assert!(close(&rust["consolidation_ratio"], 2.5));
    // Functions: 1.9 cores / 4,000 req/s = 0.475 ms of CPU; 320 MB buys 320/1769 of a vCPU;
    // 1% of a 400 ms init; 10,000 req/s all month = 26.28 billion requests.
    let duration = 0.000475 * 1769.0 / 320.0;
    let requests = 10_000.0 * 730.0 * 3600.0;
    let gb_seconds = requests * (duration + 0.01 * 0.4) * 320.0 / 1024.0;
    let function = gb_seconds * 0.0000166667 + requests / 1e6 * 0.20;
    assert_eq!(node["function"]["memory_mb"], 320);
    assert!(
        close(&node["function_monthly_cost"], function),
        "{} vs {function}",
        node["function_monthly_cost"]
    );
    assert!(rust["function_monthly_saving"].as_f64().unwrap() > 0.0);
    // A capacity search with no passing probe: no container cost, and the reason.
    let textbook = target(get_user, "rust-textbook");
    assert!(textbook["monthly_cost"].is_null() && textbook["instances"].is_null());
    assert!(
        textbook["reason"]
            .as_str()
            .unwrap()
            .contains("no capacity probe held the SLO")
    );
    assert!(
        textbook["reason"]
            .as_str()
            .unwrap()
            .contains("init not billed")
    );
}

/// The second capacity scenario, by hand: many more Node tasks than Rust ones.
fn process_priced(process: &Value, task_month: f64) {
    // ⌈13,000 / 150⌉ = 87 Node tasks against ⌈13,000 / 800⌉ = 17 Rust ones.
    assert_eq!(target(process, "node")["instances"], 87);
    assert_eq!(target(process, "rust")["instances"], 17);
    assert!(close(
        &target(process, "rust")["monthly_saving"],
        70.0 * task_month
    ));
    assert!(close(
        &target(process, "rust")["consolidation_ratio"],
        87.0 / 17.0
    ));
    assert!(
        target(process, "rust-textbook")["reason"]
            .as_str()
            .unwrap()
            .contains("did not run process")
    );
}

/// The prices used are always named, with their date and source.
fn prices_named(json: &Value, stdout: &str) {
    assert_eq!(
        json["prices"]["file"],
        "docs/prices/aws-2025.toml (built in)"
    );
    assert_eq!(json["prices"]["container"]["date"], "2025-08-28");
    assert_eq!(json["prices"]["function"]["date"], "2025-10-01");
    assert!(
        stdout.contains("docs/prices/aws-2025.toml")
            && stdout.contains("/offers/v1.0/aws/AmazonECS/20250828172723/us-east-1/index.json"),
        "{stdout}"
    );
    each_table_under(
        stdout,
        &["get-user", "process"],
        "containers: Fargate, Linux, us-east-1, prices of 2025-08-28 · functions: Lambda, \
         us-east-1, prices of 2025-10-01 · USD",
    );
}

/// Every scenario's table comes right under the region and date of its prices.
fn each_table_under(stdout: &str, scenarios: &[&str], basis: &str) {
    let lines: Vec<&str> = stdout.lines().collect();
    for scenario in scenarios {
        let at = lines
            .iter()
            .position(|line| *line == format!("{scenario}:"))
            .unwrap_or_else(|| panic!("no table for {scenario}:\n{stdout}"));
        assert_eq!(lines[at + 1], basis, "{stdout}");
        assert!(lines[at + 2].starts_with("target "), "{stdout}");
    }
}

fn eu_west_1() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/prices/aws-eu-west-1-2025.toml")
        .display()
        .to_string()
}

#[test]
fn the_eu_west_1_file_names_its_region_and_dates_and_prices_no_arm64_task() {
    let lab = fixture("compare-lab.json");
    let lab = lab.to_str().unwrap();
    let eu = eu_west_1();
    let (json, stdout) = cost_json(&[lab, "--prices", &eu]);
    each_table_under(
        &stdout,
        &["get-user", "process"],
        "containers: Fargate, Linux, eu-west-1, prices of 2026-09-11 · functions: Lambda, \
         eu-west-1, prices of 2026-10-01 · USD",
    );
    let prices = &json["prices"];
    assert_eq!(prices["container"]["region"], "eu-west-1");
    assert_eq!(prices["container"]["date"], "2026-09-11");
    assert_eq!(prices["function"]["date"], "2026-10-01");
    // The same x86 list prices as us-east-1: 5 tasks of 2 vCPU / 4 GB at $0.09874 an hour.
    let node = target(&json["scenarios"][0]["targets"], "node");
    assert!(close(&node["monthly_cost"], 5.0 * 0.09874 * 730.0));
    // No [container.arm64]: null, not the x86 figure; arm64 functions still priced, by hand
    // as in get_user_priced at 0.0000133334 a GB-second.
    assert!(node["arm64"]["monthly_cost"].is_null(), "{}", node["arm64"]);
    let requests = 10_000.0 * 730.0 * 3600.0;
    let gb_seconds = requests * (0.000475 * 1769.0 / 320.0 + 0.01 * 0.4) * 320.0 / 1024.0;
    assert!(
        close(
            &node["arm64"]["function_monthly_cost"],
            gb_seconds * 0.0000133334 + requests / 1e6 * 0.20
        ),
        "{}",
        node["arm64"]
    );
    let note = "no arm64 container prices ([container.arm64])";
    assert!(
        json["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains(note)),
        "{}",
        json["notes"]
    );
    assert!(stdout.contains(note), "{stdout}");

    let (ok, stdout, stderr) = cost(&[lab, "--prices", &eu, "--arch", "arm64"]);
    assert!(!ok, "{stdout}");
    assert!(
        stderr.contains("[container.arm64]") && stderr.contains(&eu),
        "{stderr}"
    );
}

#[test]
fn version_one_files_are_read_with_the_first_target_as_baseline() {
    let v1 = fixture("compare-v1.json");
    let (json, _) = cost_json(&[v1.to_str().unwrap()]);
    let scenarios = json["scenarios"].as_array().unwrap();
    assert_eq!(scenarios.len(), 1, "version 1 searched get-user only");
    let targets = &json["targets"];
    let node = target(targets, "node");
    let rust = target(targets, "rust");
    assert_eq!(node["role"], "baseline");
    assert_eq!(rust["role"], "candidate");
    // CPU at capacity scaled from get-user's run: 1.9 / 5,000 × 4,000 = 1.52 cores → 2 vCPU,
    // 4 GB; ⌈13,000 / 4,000⌉ = 4 tasks at $72.0802.
    assert!(close(&node["cpu_cores_at_capacity"], 1.52));
    assert_eq!(node["instances"], 4);
    assert!(close(&node["monthly_cost"], 4.0 * 0.09874 * 730.0));
    // Rust: 1.0 / 20,000 × 16,000 = 0.8 cores and 40 MiB → 1 vCPU with 2 GB (0.04937 an
    // hour), 2 tasks.
    assert_eq!(rust["size"]["vcpu"], 1.0);
    assert_eq!(rust["size"]["memory_gb"], 2.0);
    assert!(close(&rust["monthly_cost"], 2.0 * 0.04937 * 730.0));
    assert!(
        node["reason"].as_str().unwrap().contains("did not sample"),
        "{}",
        node["reason"]
    );
}

#[test]
fn flags_change_the_figures_in_the_right_direction() {
    let lab = fixture("compare-lab.json");
    let lab = lab.to_str().unwrap();
    let (base, _) = cost_json(&[lab]);
    let (doubled, _) = cost_json(&[lab, "--peak-rps", "20000"]);
    let (arm, _) = cost_json(&[lab, "--arch", "arm64"]);
    let (mean, _) = cost_json(&[lab, "--mean-rps", "1000"]);
    for name in ["node", "rust"] {
        let at =
            |json: &Value, field: &str| target(&json["targets"], name)[field].as_f64().unwrap();
        assert!(
            at(&doubled, "monthly_cost") >= at(&base, "monthly_cost"),
            "{name}"
        );
        assert!(
            at(&arm, "monthly_cost") < at(&base, "monthly_cost"),
            "{name}: arm is cheaper"
        );
        assert!(
            at(&mean, "function_monthly_cost") < at(&base, "function_monthly_cost"),
            "{name}"
        );
    }
    assert_eq!(doubled["settings"]["peak_rps"], 20000.0);
}

#[test]
fn errors_name_what_is_wrong() {
    let broken = std::env::temp_dir().join(format!("ferry-prices-{}.toml", std::process::id()));
    let text = ferry::cost::prices::BUILT_IN.replace("gb_hour = 0.00356\n", "");
    std::fs::write(&broken, text).unwrap();
    let lab = fixture("compare-lab.json");
    let (ok, _, stderr) = cost(&[lab.to_str().unwrap(), "--prices", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("gb_hour") && stderr.contains(broken.to_str().unwrap()),
        "{stderr}"
    );
    // A year is not a date: the field and the file are named.
    let text = ferry::cost::prices::BUILT_IN.replace("date = \"2025-08-28\"", "date = \"2025\"");
    std::fs::write(&broken, text).unwrap();
    let (ok, _, stderr) = cost(&[lab.to_str().unwrap(), "--prices", broken.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("container.date must be a full ISO date (YYYY-MM-DD), not \"2025\"")
            && stderr.contains(broken.to_str().unwrap()),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&broken);

    let (ok, _, stderr) = cost(&["/nonexistent/compare.json"]);
    assert!(
        !ok && stderr.contains("/nonexistent/compare.json"),
        "{stderr}"
    );

    let two_baselines =
        std::env::temp_dir().join(format!("ferry-two-baselines-{}.json", std::process::id()));
    std::fs::write(&two_baselines, r#"{"targets": [{"name": "a", "role": "baseline", "scenarios": []}, {"name": "b", "role": "baseline", "scenarios": []}]}"#).unwrap();
    let (ok, _, stderr) = cost(&[two_baselines.to_str().unwrap()]);
    assert!(
        !ok && stderr.contains("2 targets with role `baseline`"),
        "{stderr}"
    );
    let _ = std::fs::remove_file(&two_baselines);
}
