//! The `ferry` binary end to end: JSON output round-trips through `ferry report`, `--slo`
//! fails the run with the bound that broke, and the help reads like a manual.

use std::path::PathBuf;
use std::process::{Command, Output};

use ferry::load::RunResult;

use crate::support::servers;

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("running the ferry binary cargo built for this test")
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn json_output_round_trips_through_report() {
    let address = servers::start_server(servers::Behaviour::Plaintext);
    let dir = scratch_dir("roundtrip");
    let json = dir.join("run.json");
    let csv = dir.join("run.csv");
    let url = servers::url(address);
    let output = ferry(&[
        "load",
        "--rate",
        "500",
        "-d",
        "2s",
        "-c",
        "8",
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
        &url,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let summary = text(&output.stdout);
    assert!(summary.contains("1,000 sent, 1,000 responses"), "{summary}");

    // The file deserializes into the same value it was written from, histograms included.
    let result = RunResult::from_json_file(&json).unwrap();
    let rewritten: RunResult =
        serde_json::from_str(&serde_json::to_string(&result).unwrap()).unwrap();
    assert_eq!(rewritten, result);
    let histogram = result.histograms.corrected().unwrap();
    assert_eq!(histogram.len(), result.totals.responses);
    assert_eq!(
        histogram.value_at_quantile(0.99),
        result.latency.corrected.p99_us
    );
    assert_eq!(
        result.histograms.service().unwrap().max(),
        result.latency.service.max_us
    );

    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv_text.lines().count(), 1 + result.time_series.len());

    // `ferry report` reads it back; a run compared with itself has ratios of 1.
    let report = ferry(&[
        "report",
        "--format",
        "markdown",
        json.to_str().unwrap(),
        json.to_str().unwrap(),
    ]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let table = text(&report.stdout);
    assert!(table.starts_with("|  | run | run |"), "{table}");
    assert!(
        table.contains("| throughput | 500.0/s | 500.0/s (×1.00) |"),
        "{table}"
    );
    let p99 = ferry::units::format_micros(result.latency.corrected.p99_us as f64);
    assert!(
        table.contains(&format!("| p99 | {p99} | {p99} (×1.00) |")),
        "{table}"
    );
}

#[test]
fn a_breached_slo_exits_non_zero_and_names_the_bound() {
    let address = servers::start_server(servers::Behaviour::Status(500));
    let url = servers::url(address);
    let output = ferry(&[
        "load",
        "-c",
        "2",
        "-t",
        "1",
        "-d",
        "1s",
        "--slo",
        "p99<10s,errors<0.1%",
        &url,
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("SLO breached: errors<0.1%"), "{stderr}");
    assert!(!stderr.contains("p99<10s"), "{stderr}");
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("SLO BREACH errors<0.1% (measured 100.000%)"),
        "{stdout}"
    );

    let healthy = servers::start_server(servers::Behaviour::Plaintext);
    let passing = ferry(&[
        "load",
        "-c",
        "2",
        "-t",
        "1",
        "-d",
        "1s",
        "--slo",
        "p99<10s,errors<0.1%",
        &servers::url(healthy),
    ]);
    assert_eq!(passing.status.code(), Some(0), "{}", text(&passing.stderr));
}

#[test]
fn help_documents_models_schedules_and_exit_status() {
    let output = ferry(&["load", "--help"]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for needle in [
        "--connections",
        "--rate",
        "--warmup",
        "--slo",
        "--values",
        "LATE",
        "DROPPED",
        "100/s:60s,500/s:30s",
        "EXIT STATUS",
    ] {
        assert!(help.contains(needle), "`ferry load --help` lacks {needle}");
    }
}

#[test]
fn bad_input_is_refused_with_a_reason() {
    let output = ferry(&["load", "--rate", "lots", "http://127.0.0.1:9/"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("lots"));
    // An https:// run begins with one handshake: with nobody listening there is no run.
    let output = ferry(&["load", "https://127.0.0.1:9/"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("could not connect to 127.0.0.1:9"));
}
