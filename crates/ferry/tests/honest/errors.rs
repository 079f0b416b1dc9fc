//! Finding 5: a run of errors is not a result. An API that answers 401 to everything made
//! `ferry compare` exit 0 with its "throughput" in the verdict, and `ferry load` print
//! "Throughput 32088 responses/s" without a word. Also finding 4: the capacity nobody held is
//! shown as "none held", never as 0/s.

use std::process::Command;

use super::support::{COUNTING_SERVER, PythonServer, compare, read_json, scratch, text};

/// A lab of two started Python servers: `good` answers 200, `locked` answers `status`.
fn lab(dir: &std::path::Path, status: u16, expect: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("server.py"), COUNTING_SERVER).unwrap();
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            r#"name = "an API that refuses"

[[target]]
name = "good"
role = "baseline"
start = ["python3", "{{dir}}/server.py", "{{port}}", "200", "{{dir}}/good.log"]
ready = "/ready"

[[target]]
name = "locked"
role = "candidate"
start = ["python3", "{{dir}}/server.py", "{{port}}", "{status}", "{{dir}}/locked.log"]
ready = "/ready"

[[scenario]]
name = "read"
request = "GET /things/1"
connections = 4
capacity = true
{expect}
"#
        ),
    )
    .unwrap();
    lab
}

#[test]
fn a_scenario_of_401s_is_invalid_and_the_run_exits_5() {
    let dir = scratch("errors-401");
    let out = dir.join("out");
    let output = compare(&lab(&dir, 401, ""), &out, &[]);
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let json = read_json(&out.join("compare.json"));
    assert_eq!(json["complete"], true, "{}", json["failure"]);
    only_the_locked_run_is_invalid(&json);
    let stdout = String::from_utf8_lossy(&output.stdout);
    the_verdict_names_the_invalid_run(&stdout);
    the_capacity_nobody_held_is_none_held(&json["targets"][1]["scenarios"][0], &stdout);
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    the_html_draws_nothing_as_zero(&html);
    the_locked_target_is_not_priced(&json);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The baseline's run is valid; the candidate's, all 401s, is invalid with the reason.
fn only_the_locked_run_is_invalid(json: &serde_json::Value) {
    let scenario = |target: usize| &json["targets"][target]["scenarios"][0];
    assert_eq!(scenario(0)["valid"], true);
    assert!(scenario(0)["invalid_reason"].is_null());
    assert_eq!(scenario(1)["valid"], false);
    assert_eq!(scenario(1)["invalid_reason"], "invalid: 100 % 401");
    let totals = &scenario(1)["rounds"][0]["result"]["totals"];
    assert_eq!(totals["error_ratio"], 1.0);
    assert_eq!(totals["errors"]["status_4xx"], totals["responses"]);
}

/// Neither a win nor a loss: the verdict names the target, the scenario and the reason, and
/// the matrix draws no ratio.
fn the_verdict_names_the_invalid_run(stdout: &str) {
    assert!(
        stdout
            .contains("read: locked is not compared with good: locked's run is invalid: 100 % 401"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("(wins)") && !stdout.contains("(does not win)"),
        "{stdout}"
    );
    let throughput_row = stdout
        .lines()
        .find(|line| line.starts_with("| read: throughput |"))
        .expect("the matrix has a throughput row");
    assert!(
        throughput_row.ends_with("| invalid run |"),
        "{throughput_row}"
    );
}

/// The capacity nobody held is "none held", with the bottom of its range probed, in the JSON
/// (`scenario` is the locked target's) and in the matrix.
fn the_capacity_nobody_held_is_none_held(scenario: &serde_json::Value, stdout: &str) {
    let capacity = &scenario["capacity"];
    assert_eq!(capacity["bound"], "none", "{capacity}");
    assert!(capacity["rate_rps"].is_null());
    let probes = capacity["probes"].as_array().unwrap();
    let lowest = probes
        .iter()
        .map(|p| p["rate_rps"].as_f64().unwrap())
        .fold(f64::MAX, f64::min);
    assert_eq!(
        lowest,
        capacity["low_rps"].as_f64().unwrap().round().max(1.0),
        "{capacity}"
    );
    assert_eq!(
        capacity["bracket_high_rps"].as_f64(),
        Some(lowest),
        "the lowest failing probe closes the bracket"
    );
    let capacity_row = stdout
        .lines()
        .find(|line| line.starts_with("| read: capacity"))
        .expect("the matrix has a capacity row");
    assert!(capacity_row.contains("| none held |"), "{capacity_row}");
}

/// No chart or table of the HTML shows the capacity none held, or its month, as 0.
fn the_html_draws_nothing_as_zero(html: &str) {
    assert!(
        html.contains("capacity: none held —"),
        "the HTML draws no bar for it"
    );
    assert!(!html.contains(">capacity 0/s<"), "no capacity drawn as 0");
    assert!(
        html.contains(">containers —<") && html.contains(">functions —<"),
        "its unpriced month is no bar, not 0.00"
    );
}

/// The cost section lists the locked target, priced as nothing: no instances, no month.
fn the_locked_target_is_not_priced(json: &serde_json::Value) {
    let locked_cost = json["cost"]["scenarios"][0]["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "locked")
        .cloned()
        .expect("the cost section lists every target");
    assert!(locked_cost["instances"].is_null(), "{locked_cost}");
    assert!(locked_cost["monthly_cost"].is_null(), "{locked_cost}");
    assert!(
        locked_cost["function_monthly_cost"].is_null(),
        "the error path is not priced as functions either: {locked_cost}"
    );
}

#[test]
fn statuses_a_scenario_expects_are_not_errors() {
    let dir = scratch("errors-expect");
    let out = dir.join("out");
    let output = compare(&lab(&dir, 404, "expect = [200, 404]"), &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let json = read_json(&out.join("compare.json"));
    let locked = &json["targets"][1]["scenarios"][0];
    assert_eq!(locked["valid"], true);
    let totals = &locked["rounds"][0]["result"]["totals"];
    assert_eq!(totals["error_count"], 0, "{totals}");
    assert_eq!(
        totals["status"]["404"], totals["responses"],
        "still counted by status"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ferry_load_warns_when_most_answers_are_errors_even_when_quiet() {
    let dir = scratch("errors-load");
    std::fs::write(dir.join("server.py"), COUNTING_SERVER).unwrap();
    let log = dir.join("requests.log");
    let server = PythonServer::start(&dir.join("server.py"), &["401", log.to_str().unwrap()]);
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["load", "-q", "-c", "2", "-d", "1s"])
        .arg(format!("http://127.0.0.1:{}/", server.port))
        .output()
        .expect("running the ferry binary cargo built for this test");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("100 % of the requests were errors"),
        "{stderr}"
    );
    assert!(warnings[0].contains("100 % 401"), "{stderr}");
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_target_that_sends_bigger_pages_is_not_doing_the_same_work() {
    let dir = scratch("errors-work");
    std::fs::write(dir.join("server.py"), COUNTING_SERVER).unwrap();
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        r#"name = "pages of two sizes"

[[target]]
name = "small"
role = "baseline"
start = ["python3", "{dir}/server.py", "{port}", "200", "{dir}/small.log", "1110"]
ready = "/ready"

[[target]]
name = "large"
role = "candidate"
start = ["python3", "{dir}/server.py", "{port}", "200", "{dir}/large.log", "6897"]
ready = "/ready"

[[scenario]]
name = "list"
request = "GET /articles"
connections = 2
"#,
    )
    .unwrap();
    let out = dir.join("out");
    let output = compare(&lab, &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    let json = read_json(&out.join("compare.json"));
    let bytes =
        |t: usize| json["targets"][t]["scenarios"][0]["summary"]["response_bytes_mean"].as_f64();
    assert_eq!((bytes(0), bytes(1)), (Some(1110.0), Some(6897.0)));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("not the same work: large sends 6897 B per response, small 1110 B"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_target_never_ready_is_given_up_after_its_ready_timeout_with_its_output() {
    let dir = scratch("errors-ready");
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        r#"name = "a service that never listens"

[[target]]
name = "stuck"
role = "baseline"
start = ["sh", "-c", "echo 'loading the model' ; echo 'still loading' >&2 ; sleep 60"]
ready_timeout = "1s"

[[scenario]]
name = "read"
request = "GET /"
"#,
    )
    .unwrap();
    let started = std::time::Instant::now();
    let output = compare(&lab, &dir.join("out"), &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "gave up long after its 1s ready_timeout"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("within its ready_timeout (1s)"), "{stderr}");
    assert!(
        stderr.contains("loading the model") && stderr.contains("still loading"),
        "the error quotes the end of its stdout and stderr: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
