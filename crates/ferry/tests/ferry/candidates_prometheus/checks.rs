//! `ferry candidates` run against the Prometheus that scraped both services, and what its
//! report, its target file and its errors must say.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::procfs::{CONTENDED_PRESSURE, cpu_pressure};
use super::services::Service;
use crate::support::prometheus::Prometheus;

/// Runs `ferry candidates` over the last `window` seconds: its JSON report, and the target
/// file it wrote.
pub(super) fn run_candidates(
    prometheus: &Prometheus,
    work: &Path,
    window: u64,
) -> (Value, PathBuf) {
    let json = work.join("candidates.json");
    let targets_file = work.join("targets.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["candidates", "--prometheus", &prometheus.url])
        .args([
            "--window",
            &format!("{window}s"),
            "--scrape-interval",
            "1s",
            "--step",
            "1s",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--write-targets")
        .arg(&targets_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ferry candidates failed:\n{}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr),
        prometheus.log()
    );
    println!("{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    (report, targets_file)
}

/// Both services ranked by score, each with its figures; `/api/v1/process` classed
/// `cpu-bound` (on a machine that is not contended), with the CPU per request and the p99
/// ferry measured.
pub(super) fn ranking_and_classes(report: &Value, services: &BTreeMap<&'static str, Service>) {
    let ranked = report["services"].as_array().unwrap();
    let names: Vec<&str> = ranked
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"rust") && names.contains(&"node"),
        "{names:?}"
    );
    let scores: Vec<f64> = ranked
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(scores[0] >= scores[1], "ranked by score: {scores:?}");

    let contended = cpu_pressure() > CONTENDED_PRESSURE;
    if contended {
        println!(
            "the machine's CPU is contended (PSI some avg60 above {CONTENDED_PRESSURE}%): the class is not checked"
        );
    }
    let mut failures = Vec::new();
    for entry in ranked {
        let name = entry["service"].as_str().unwrap();
        let process = service_and_routes(entry, name, contended, &mut failures);
        process_figures(name, process, &services[name], contended, &mut failures);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// One service's entry: its figures and the fit, the CPU shares of both routes, and the
/// class of `/api/v1/process`, which it returns.
fn service_and_routes<'a>(
    entry: &'a Value,
    name: &str,
    contended: bool,
    failures: &mut Vec<String>,
) -> &'a Value {
    assert!(
        ["cpu-bound", "io-bound", "mixed"].contains(&entry["workload"].as_str().unwrap()),
        "{name}: {}",
        entry["workload"]
    );
    assert!(entry["cpu_cores"].as_f64().unwrap() > 0.0, "{name}");
    assert!(entry["rss_bytes"].as_f64().unwrap() > 1e6, "{name}");
    let fit = &entry["cpu_fit"];
    assert_eq!(fit["separable"], true, "{name}: {fit}");
    assert!(fit["r_squared"].as_f64().unwrap() >= 0.5, "{name}: {fit}");

    let route = |path: &str| {
        entry["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["route"] == path)
            .unwrap_or_else(|| panic!("{name}: no route {path} in {}", entry["routes"]))
    };
    let process = route("/api/v1/process");
    let users = route("/users/{id}");
    assert_eq!(process["method"], "POST");
    let process_share = process["cpu_share"].as_f64().unwrap();
    let users_share = users["cpu_share"].as_f64().unwrap_or(0.0);
    println!(
        "{name}: CPU share of /api/v1/process {:.0}%, of GET /users/{{id}} {:.0}%",
        process_share * 100.0,
        users_share * 100.0
    );
    if contended {
        println!(
            "{name}: /api/v1/process classed {} on a contended machine: not checked",
            process["workload"]
        );
    } else if process["workload"] != "cpu-bound" {
        failures.push(format!(
            "{name}: /api/v1/process is {}: {}",
            process["workload"], process["reason"]
        ));
    }
    process
}

/// `/api/v1/process`'s CPU per request against /proc, and its p99 against ferry's.
fn process_figures(
    name: &str,
    process: &Value,
    service: &Service,
    contended: bool,
    failures: &mut Vec<String>,
) {
    let estimated = process["cpu_seconds_per_request"].as_f64().unwrap();
    let measured = service.proc_cpu_per_process;
    println!(
        "{name}: CPU per /api/v1/process: ferry candidates {:.3} ms, /proc {:.3} ms ({:+.0}%)",
        estimated * 1e3,
        measured * 1e3,
        (estimated / measured - 1.0) * 100.0
    );
    if (estimated - measured).abs() / measured > 0.35 {
        failures.push(format!(
            "{name}: CPU per batch {estimated} s, /proc {measured} s"
        ));
    }

    let prometheus_p99 = process["p99_seconds"].as_f64().unwrap();
    let ferry_p99 = service.process_latency.value_at_quantile(0.99) as f64 / 1e6;
    println!(
        "{name}: p99 of /api/v1/process: Prometheus {:.2} ms, ferry {:.2} ms",
        prometheus_p99 * 1e3,
        ferry_p99 * 1e3
    );
    // Contended, the client's own wait for a CPU adds to what it measures: the server's
    // time is then only bounded by it (within a bucket).
    let agrees = if contended {
        prometheus_p99 <= ferry_p99 * 2.5
    } else {
        (1.0 / 2.5..=2.5).contains(&(prometheus_p99 / ferry_p99))
    };
    if !agrees {
        failures.push(format!(
            "{name}: p99 {prometheus_p99} s in Prometheus, {ferry_p99} s in ferry"
        ));
    }
}

/// The target file loads with ferry's own loader once the values file is supplied, and
/// weights the top candidate's routes by their rates.
pub(super) fn target_file(ids_file: &Path, work: &Path, targets_file: &Path) {
    std::fs::copy(ids_file, work.join("id.txt")).unwrap();
    let written = ferry::load::target::load_target_file(targets_file).unwrap();
    let by_name: BTreeMap<&str, u32> = written
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert!(
        by_name["GET /users/{id}"] > by_name["POST /api/v1/process"],
        "reads outnumber batches: {by_name:?}"
    );
}

/// Errors against the same Prometheus: each says what it looked for.
pub(super) fn errors_name_what_they_looked_for(prometheus: &Prometheus, window: u64) {
    let fails = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "candidates",
                "--prometheus",
                &prometheus.url,
                "--scrape-interval",
                "1s",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{extra:?} should fail");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let window_arg = format!("{window}s");
    let stderr = fails(&[
        "--window",
        &window_arg,
        "--cpu-metric",
        "no_such_cpu_seconds_total",
    ]);
    assert!(
        stderr.contains("no series no_such_cpu_seconds_total"),
        "{stderr}"
    );
    let stderr = fails(&["--window", &window_arg, "--service-label", "team"]);
    assert!(stderr.contains("no `team` label"), "{stderr}");
    let stderr = fails(&["--window", &window_arg, "--route-label", "handler"]);
    assert!(stderr.contains("no `handler` label"), "{stderr}");
    let stderr = fails(&["--window", &window_arg, "--duration-metric", "broken{"]);
    assert!(
        stderr.contains("HTTP 400") && stderr.contains("bad_data"),
        "{stderr}"
    );
    let stderr = fails(&["--window", "1h"]);
    assert!(stderr.contains("longer than the data"), "{stderr}");
}
