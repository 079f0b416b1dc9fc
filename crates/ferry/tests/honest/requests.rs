//! Finding 1: a lab's `requests` file loaded the file's `base_url`, not the target, so every
//! target's "measurement" went to that URL. A decoy listening there counts what it receives.

use super::support::{COUNTING_SERVER, PythonServer, compare, lines_in, read_json, scratch, text};

/// A lab of one started counting server whose scenario reads `requests`.
fn lab(dir: &std::path::Path, requests: &str, setup: &str) -> std::path::PathBuf {
    std::fs::write(dir.join("server.py"), COUNTING_SERVER).unwrap();
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            r#"name = "a target file made for ferry load"
{setup}
[[target]]
name = "service"
role = "baseline"
start = ["python3", "{{dir}}/server.py", "{{port}}", "200", "{{dir}}/service.log"]
ready = "/ready"

[[scenario]]
name = "mix"
requests = "{requests}"
connections = 2
"#
        ),
    )
    .unwrap();
    lab
}

#[test]
fn every_request_of_a_requests_file_reaches_the_target_not_its_base_url() {
    let dir = scratch("requests-decoy");
    std::fs::write(dir.join("server.py"), COUNTING_SERVER).unwrap();
    let decoy_log = dir.join("decoy.log");
    let decoy = PythonServer::start(
        &dir.join("server.py"),
        &["200", decoy_log.to_str().unwrap()],
    );
    std::fs::write(
        dir.join("requests.json"),
        format!(
            r#"{{"base_url": "http://127.0.0.1:{}", "requests": [
                {{"url": "/things/1", "weight": 3}},
                {{"url": "/things", "method": "POST", "body": "{{}}"}}]}}"#,
            decoy.port
        ),
    )
    .unwrap();
    let out = dir.join("out");
    let output = compare(&lab(&dir, "requests.json", ""), &out, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    eprintln!(
        "the decoy at the file's base_url received {}, the target {}",
        lines_in(&decoy_log),
        lines_in(&dir.join("service.log"))
    );
    assert_eq!(
        lines_in(&decoy_log),
        0,
        "the decoy at the file's base_url got requests"
    );
    let json = read_json(&out.join("compare.json"));
    let totals = &json["targets"][0]["scenarios"][0]["rounds"][0]["result"]["totals"];
    assert!(totals["responses"].as_u64().unwrap() > 0, "{totals}");
    assert!(
        lines_in(&dir.join("service.log")) as u64 >= totals["responses"].as_u64().unwrap(),
        "the target received at least every measured response"
    );
    let notes = json["notes"].to_string();
    assert!(
        notes.contains(&format!("(http://127.0.0.1:{}) was replaced", decoy.port)),
        "{notes}"
    );
    drop(decoy);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_absolute_url_in_a_lab_is_refused_before_anything_starts() {
    let dir = scratch("requests-absolute");
    std::fs::write(
        dir.join("requests.json"),
        r#"{"requests": [{"url": "/a"}, {"url": "http://127.0.0.1:9/elsewhere"}]}"#,
    )
    .unwrap();
    let out = dir.join("out");
    let output = compare(&lab(&dir, "requests.json", ""), &out, &["--plan"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("http://127.0.0.1:9/elsewhere") && stderr.contains("give a path"),
        "{stderr}"
    );
    assert!(!dir.join("service.log").exists(), "nothing started");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_requests_file_that_setup_writes_is_checked_before_any_target_starts() {
    let dir = scratch("requests-setup");
    let setup = r#"
[[setup]]
name = "write the requests"
run = ["sh", "-c", "echo '{\"requests\": [{\"url\": \"http://127.0.0.1:9/x\"}]}' > {out}/requests.json"]
"#;
    let out = dir.join("out");
    let output = compare(&lab(&dir, "{out}/requests.json", setup), &out, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is an absolute URL"), "{stderr}");
    assert!(!out.join("logs/service.log").exists(), "no target started");
    let _ = std::fs::remove_dir_all(&dir);
}
