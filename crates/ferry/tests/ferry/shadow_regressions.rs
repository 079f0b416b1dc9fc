//! `ferry shadow` replay against real servers: a candidate that differs on purpose in one
//! field of one route, one header, and the status of some requests of another route gets
//! exactly those reported, while a timestamp that differs between primary and secondary too
//! is noise. The same servers with an equal candidate report nothing and exit 0.

use crate::support::shadow_servers::{
    Flavour, noise, regressions, replay_args, scratch, shadow, start, url, write_requests,
};

fn mix() -> Vec<String> {
    let mut lines = vec!["# a generated mix of reads, and writes that must be skipped".to_string()];
    for id in 1..=80u32 {
        lines.push(format!("GET /users/{id}"));
        lines.push(format!("GET /orders/{id}"));
        if id.is_multiple_of(2) {
            lines.push("GET /health".to_string());
        }
        if id.is_multiple_of(10) {
            lines.push(format!("DELETE /users/{id}"));
        }
    }
    lines
}

#[test]
fn exactly_the_planted_differences_are_regressions() {
    let primary = url(start(Flavour::Old));
    let secondary = url(start(Flavour::Old));
    let candidate = url(start(Flavour::Different));
    let requests = write_requests("planted.txt", &mix());
    let json = scratch("planted.json");
    let html = scratch("planted.html");
    let requests_arg = requests.display().to_string();
    let html_arg = html.display().to_string();
    let (output, report) = shadow(
        &replay_args(
            &primary,
            Some(&secondary),
            &candidate,
            &requests_arg,
            &["--html", &html_arg, "-c", "8"],
        ),
        &json,
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(4),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = report.expect("the JSON report is written");
    planted_regressions_and_noise(&report);
    worst_endpoint_first_in_the_summary_and_page(&report, &stdout, &html);
}

/// The planted differences and nothing else, at their rates; what also differs for the
/// secondary, or is ignored, is noise.
fn planted_regressions_and_noise(report: &serde_json::Value) {
    assert_eq!(
        regressions(report),
        [
            (
                "GET /health".to_string(),
                "header.x-api-version".to_string(),
                "value".to_string()
            ),
            (
                "GET /orders/{id}".to_string(),
                "status".to_string(),
                "value".to_string()
            ),
            (
                "GET /users/{id}".to_string(),
                "body.email".to_string(),
                "value".to_string()
            ),
        ]
    );
    let endpoints = report["endpoints"].as_array().unwrap();
    let orders = endpoints
        .iter()
        .find(|e| e["endpoint"] == "GET /orders/{id}")
        .unwrap();
    assert_eq!(orders["requests"], 80);
    assert_eq!(orders["compared"], 80);
    let status = &orders["regressions"][0];
    assert_eq!(status["count"], 20, "ids divisible by 4 answer 500");
    assert_eq!(status["rate"], 0.25);
    assert_eq!(status["noise_rate"], 0.0);
    assert_eq!(status["examples"].as_array().unwrap().len(), 5);
    // The random timestamp differs for the secondary as often: noise, learned.
    let served_at = noise(report, "GET /users/{id}", "body.served_at").expect("served_at is noise");
    assert_eq!(served_at["reason"], "secondary");
    assert_eq!(served_at["rate"], 1.0);
    assert_eq!(served_at["noise_rate"], 1.0);
    let request_id =
        noise(report, "GET /health", "header.x-request-id").expect("request ids are noise");
    assert_eq!(request_id["reason"], "ignored");
    assert_eq!(report["requests"]["skipped_writes"], 8);
    assert_eq!(report["requests"]["sent"], 200);
    assert_eq!(report["errors"]["candidate"]["errors"], 0);
}

fn worst_endpoint_first_in_the_summary_and_page(
    report: &serde_json::Value,
    stdout: &str,
    html: &std::path::Path,
) {
    let endpoints = report["endpoints"].as_array().unwrap();
    // The worst endpoint comes first: one regression each, the status at 25 % is below 100 %.
    assert_eq!(endpoints[0]["regressions"][0]["rate"], 1.0);
    assert!(
        stdout.contains("body.email  value  rate 100.0 %"),
        "{stdout}"
    );
    let page = std::fs::read_to_string(html).expect("the HTML report is written");
    assert!(page.contains("body.email"), "the regression is listed");
    assert!(
        page.contains("@example.com") && page.contains("USER"),
        "the candidate's bodies are shown"
    );
    assert_eq!(
        page.matches("<th>primary</th><th>secondary</th><th>candidate</th>")
            .count(),
        15,
        "five examples, three responses side by side, for each of the 3 regressions"
    );
}

#[test]
fn an_equal_candidate_reports_nothing_and_passes() {
    let primary = url(start(Flavour::Old));
    let secondary = url(start(Flavour::Old));
    let candidate = url(start(Flavour::Old));
    let requests = write_requests("equal.txt", &mix());
    let json = scratch("equal.json");
    let requests_arg = requests.display().to_string();
    let (output, report) = shadow(
        &replay_args(&primary, Some(&secondary), &candidate, &requests_arg, &[]),
        &json,
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let report = report.expect("the JSON report is written");
    assert!(regressions(&report).is_empty(), "{report:#}");
    assert_eq!(report["regression_count"], 0);
    assert_eq!(report["exit_status"], 0);
}

#[test]
fn without_a_secondary_noise_cannot_be_told_and_the_report_says_so() {
    let primary = url(start(Flavour::Old));
    let candidate = url(start(Flavour::Old));
    let requests = write_requests(
        "alone.txt",
        &["GET /users/1".to_string(), "GET /health".to_string()],
    );
    let json = scratch("alone.json");
    let requests_arg = requests.display().to_string();
    let (output, report) = shadow(
        &replay_args(&primary, None, &candidate, &requests_arg, &[]),
        &json,
    );
    assert_eq!(output.status.code(), Some(4));
    let report = report.expect("the JSON report is written");
    assert_eq!(
        regressions(&report),
        [(
            "GET /users/{id}".to_string(),
            "body.served_at".to_string(),
            "value".to_string()
        )]
    );
    assert!(
        report["warnings"][0]
            .as_str()
            .unwrap()
            .contains("no --secondary")
    );
    // --ignore marks it as noise by hand.
    let (output, report) = shadow(
        &replay_args(
            &primary,
            None,
            &candidate,
            &requests_arg,
            &["--ignore", "body.served_*"],
        ),
        &json,
    );
    assert_eq!(output.status.code(), Some(0));
    let report = report.expect("the JSON report is written");
    assert_eq!(
        noise(&report, "GET /users/{id}", "body.served_at").unwrap()["reason"],
        "ignored"
    );
}
