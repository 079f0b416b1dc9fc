//! The gate on hand-made files: matching, invalid runs, older versions, the markdown's order.

use serde_json::{Value, json};

use super::figures::RunIn;
use super::{Verdict, compare_runs, markdown};

/// A closed-model scenario whose rounds ran at `rates` responses/s, at 50 % CPU and 10 MiB.
fn scenario(name: &str, rates: &[f64], valid: Option<bool>) -> Value {
    let rounds: Vec<Value> = rates
        .iter()
        .map(|rate| {
            json!({
                "cpu_mean_percent": 50.0,
                "rss_peak_bytes": 10_485_760,
                "result": {"totals": {"throughput_rps": rate, "error_ratio": 0.0},
                           "latency": {"corrected": {"p99_us": 900}}}
            })
        })
        .collect();
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let mut scenario = json!({
        "scenario": name,
        "title": name,
        "schedule": null,
        "summary": {"throughput_rps": mean, "p99_us": 900, "cpu_mean_percent": 50.0,
                    "cpu_percent_per_1k_rps": 50.0 / (mean / 1000.0),
                    "rss_peak_bytes": 10_485_760},
        "rounds": rounds,
        "capacity": null,
    });
    if let Some(valid) = valid {
        scenario["valid"] = json!(valid);
        scenario["invalid_reason"] = if valid {
            Value::Null
        } else {
            json!("invalid: 100 % 401")
        };
    }
    scenario
}

fn run(version: u64, targets: Value) -> RunIn {
    serde_json::from_value(json!({
        "schema_version": version,
        "started_at_unix_ms": 1_765_000_000_000u64,
        "lab": {"name": "lab", "vars": {"cost_ms": 5}, "slo_error_ratio": 0.001},
        "settings": {"rounds": 2},
        "targets": targets,
    }))
    .expect("the hand-made file reads")
}

#[test]
fn a_slower_target_is_a_regression_and_the_rest_the_same() {
    let earlier = run(
        3,
        json!([{"name": "svc", "scenarios": [scenario("read", &[300.0, 310.0], Some(true))]}]),
    );
    let now = run(
        3,
        json!([{"name": "svc", "scenarios": [scenario("read", &[100.0, 104.0], Some(true))]}]),
    );
    let section = compare_runs("a.json", 0.1, &earlier, &now);
    let verdict = |metric: &str| {
        section
            .comparisons
            .iter()
            .find(|c| c.metric == metric)
            .map(|c| c.verdict)
    };
    assert_eq!(verdict("throughput"), Some(Verdict::Regression));
    // The same CPU at a third of the throughput: three times the CPU per request.
    assert_eq!(verdict("CPU per 1k req/s"), Some(Verdict::Regression));
    assert_eq!(verdict("RSS peak"), Some(Verdict::Same));
    assert_eq!(
        verdict("p99"),
        None,
        "a closed model is judged on throughput"
    );
    assert!(
        section.not_compared.is_empty(),
        "{:?}",
        section.not_compared
    );
    let throughput = &section.comparisons[0];
    assert_eq!(
        throughput.spread,
        Some(2.0 / 102.0),
        "the larger of the two runs' spreads"
    );

    let table = markdown::table(&section);
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("| svc |")).collect();
    assert!(
        rows[0].contains("| CPU per 1k req/s |"),
        "worst first: {table}"
    );
    assert!(rows[1].contains("| throughput |"), "{table}");
    assert!(rows[2].ends_with("| same |"), "{table}");
    assert!(
        table.starts_with("### Performance gate: 2 regressions"),
        "{table}"
    );
}

#[test]
fn mismatched_and_invalid_runs_are_listed_not_compared() {
    let earlier = run(
        3,
        json!([
            {"name": "base", "scenarios": [scenario("read", &[300.0, 300.0], Some(true)),
                                           scenario("write", &[100.0, 100.0], Some(true)),
                                           scenario("login", &[50.0, 50.0], Some(false)),
                                           scenario("search", &[400.0, 400.0], Some(true))]},
            {"name": "old-name", "scenarios": [scenario("read", &[900.0, 900.0], Some(true))]}
        ]),
    );
    let now = run(
        3,
        json!([
            {"name": "base", "scenarios": [scenario("read", &[300.0, 300.0], Some(true)),
                                           scenario("login", &[500.0, 500.0], Some(true)),
                                           scenario("search", &[4.0, 4.0], Some(false))]},
            {"name": "new-name", "scenarios": [scenario("read", &[10.0, 10.0], Some(true))]}
        ]),
    );
    let section = compare_runs("a.json", 0.1, &earlier, &now);
    assert_eq!(
        section.count(Verdict::Regression),
        0,
        "{:?}",
        section.comparisons
    );
    assert!(
        section
            .comparisons
            .iter()
            .all(|c| c.target == "base" && c.scenario == "read")
    );
    let reasons: Vec<(String, Option<String>, String)> = section
        .not_compared
        .iter()
        .map(|n| (n.target.clone(), n.scenario.clone(), n.reason.clone()))
        .collect();
    let expected = [
        (
            "base",
            Some("login"),
            "invalid in the baseline run (invalid: 100 % 401)",
        ),
        ("base", Some("write"), "only in the baseline run"),
        (
            "base",
            Some("search"),
            "invalid in this run (invalid: 100 % 401)",
        ),
        ("new-name", None, "only in this run"),
        ("old-name", None, "only in the baseline run"),
    ];
    for (target, scenario, reason) in expected {
        assert!(
            reasons.contains(&(target.into(), scenario.map(str::to_string), reason.into())),
            "{target} {scenario:?} {reason}: {reasons:?}"
        );
    }
}

#[test]
fn a_version_2_file_is_read_and_its_error_runs_are_invalid() {
    // Version 2 had no `valid`: a round of errors above the lab's bound makes it invalid all
    // the same.
    let mut broken = scenario("write", &[100.0, 100.0], None);
    broken["rounds"][1]["result"]["totals"]["error_ratio"] = json!(0.5);
    let earlier = run(
        2,
        json!([{"name": "svc", "scenarios": [scenario("read", &[300.0, 300.0], None), broken]}]),
    );
    let now = run(
        3,
        json!([{"name": "svc", "scenarios": [scenario("read", &[303.0, 297.0], Some(true)),
                                             scenario("write", &[100.0, 100.0], Some(true))]}]),
    );
    let section = compare_runs("v2.json", 0.1, &earlier, &now);
    assert!(
        section
            .comparisons
            .iter()
            .all(|c| c.verdict == Verdict::Same)
    );
    assert!(section.comparisons.iter().any(|c| c.scenario == "read"));
    assert_eq!(section.not_compared.len(), 1, "{:?}", section.not_compared);
    assert_eq!(
        section.not_compared[0].reason,
        "invalid in the baseline run (invalid: 50.0 % errors)"
    );
}

#[test]
fn the_runs_differences_are_noted() {
    let earlier = run(3, json!([]));
    let mut now = run(3, json!([]));
    now.lab.vars.insert("cost_ms".into(), json!(15));
    let section = compare_runs("a.json", 0.1, &earlier, &now);
    assert_eq!(section.notes, vec!["vars.cost_ms: 5 → 15".to_string()]);
    // A version 2 file's vars were text: the same value is not a difference.
    now.lab.vars.insert("cost_ms".into(), json!("5"));
    let same = compare_runs("a.json", 0.1, &earlier, &now);
    assert!(same.notes.is_empty(), "{:?}", same.notes);
}

#[test]
fn an_open_model_is_judged_on_p99_and_a_larger_rss_is_a_regression() {
    // An open model's rate is fixed: three times the p99 and the RSS, the same throughput.
    let open = |p99: f64, rss: f64| {
        let mut scenario = scenario("burst", &[1000.0, 1000.0], Some(true));
        scenario["schedule"] = json!("open: 1000/s");
        scenario["summary"]["p99_us"] = json!(p99);
        scenario["summary"]["rss_peak_bytes"] = json!(rss);
        for round in scenario["rounds"].as_array_mut().unwrap() {
            round["result"]["latency"]["corrected"]["p99_us"] = json!(p99);
            round["rss_peak_bytes"] = json!(rss);
        }
        scenario
    };
    let earlier = run(3, json!([{"name": "svc", "scenarios": [open(900.0, 1e7)]}]));
    let now = run(
        3,
        json!([{"name": "svc", "scenarios": [open(2700.0, 3e7)]}]),
    );
    let section = compare_runs("a.json", 0.1, &earlier, &now);
    let verdict = |metric: &str| {
        section
            .comparisons
            .iter()
            .find(|c| c.metric == metric)
            .map(|c| c.verdict)
    };
    assert_eq!(verdict("p99"), Some(Verdict::Regression));
    assert_eq!(verdict("RSS peak"), Some(Verdict::Regression));
    assert_eq!(verdict("CPU per 1k req/s"), Some(Verdict::Same));
    assert_eq!(
        verdict("throughput"),
        None,
        "an open model is judged on p99"
    );
    // The other way round, the same figures are improvements.
    let back = compare_runs("b.json", 0.1, &now, &earlier);
    assert_eq!(
        back.count(Verdict::Improvement),
        2,
        "{:?}",
        back.comparisons
    );
    assert_eq!(back.count(Verdict::Regression), 0);
}
