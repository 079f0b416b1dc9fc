//! Issue 20, flows: a service that hands out a slug on create and answers 404 for a slug it
//! never made, so that a read only succeeds if ferry carried the created value into it. Every
//! figure is checked against the service's own count of what it received.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::support::{PythonServer, compare, read_json, scratch, text};

/// `python3 articles.py PORT STATS`: `POST /api/articles` with `{"article":{"title":T}}`
/// answers 201 `{"article":{"slug":…}}` with a slug made from T and a counter; `GET
/// /api/articles/SLUG` answers 200 for a slug it made, 404 otherwise; `GET /ready` answers
/// 200. STATS always holds `{"created", "read", "missing"}` so far.
const ARTICLES: &str = r##"
import http.server, itertools, json, sys, threading
stats_file = sys.argv[2]
articles, lock, counter = {}, threading.Lock(), itertools.count(1)
stats = {"created": 0, "read": 0, "missing": 0}
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def reply(self, status, document):
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def count(self, key):
        with lock:
            stats[key] += 1
            with open(stats_file, "w") as out:
                json.dump(stats, out)
    def do_POST(self):
        sent = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        title = sent["article"]["title"]
        with lock:
            slug = title.lower().replace(" ", "-") + "-" + str(next(counter))
            articles[slug] = title
        self.count("created")
        self.reply(201, {"article": {"slug": slug, "title": title}})
    def do_GET(self):
        if self.path == "/ready":
            return self.reply(200, {})
        slug = self.path.removeprefix("/api/articles/")
        with lock:
            title = articles.get(slug)
        self.count("missing" if title is None else "read")
        if title is None:
            return self.reply(404, {"errors": {"article": ["not found"]}})
        self.reply(200, {"article": {"slug": slug, "title": title}})
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"##;

/// The flow file of `ferry load --flow`: create an article, then read it by its slug, taken
/// at `pointer`.
fn flow_file(dir: &Path, pointer: &str) -> PathBuf {
    let flow = serde_json::json!({"steps": [
        {"request": "POST /api/articles", "headers": {"content-type": "application/json"},
         "body": "{\"article\": {\"title\": \"T {uuid}\"}}", "extract": {"slug": pointer}},
        {"request": "GET /api/articles/{slug}", "think": "2ms", "name": "read it"}
    ]});
    let path = dir.join("flow.json");
    std::fs::write(&path, flow.to_string()).unwrap();
    path
}

/// `ferry load --flow` with `pointer` against a fresh articles service: the run JSON and the
/// service's own counts.
fn load_flow(name: &str, pointer: &str) -> (serde_json::Value, serde_json::Value) {
    let dir = scratch(name);
    std::fs::write(dir.join("articles.py"), ARTICLES).unwrap();
    let stats = dir.join("stats.json");
    let server = PythonServer::start(&dir.join("articles.py"), &[stats.to_str().unwrap()]);
    let run = dir.join("run.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["load", "-c", "4", "-d", "1s", "--no-progress", "--flow"])
        .arg(flow_file(&dir, pointer))
        .arg("--json")
        .arg(&run)
        .arg(format!("http://127.0.0.1:{}", server.port))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    drop(server);
    (read_json(&run), read_json(&stats))
}

#[test]
fn a_flow_reads_what_it_created_and_counts_what_the_service_received() {
    let (run, served) = load_flow("flow-load", "/article/slug");
    let flow = &run["flow"];
    let iterations = flow["iterations"].as_u64().unwrap();
    assert!(iterations > 0, "{run}");
    assert_eq!(flow["failed"], 0, "{flow}");
    assert_eq!(run["totals"]["error_count"], 0, "{}", run["totals"]);
    // Every iteration sent both steps, and the service saw exactly those requests: every
    // read found the article its iteration created.
    assert_eq!(flow["steps"][0]["requests"], iterations, "{flow}");
    assert_eq!(flow["steps"][1]["requests"], iterations, "{flow}");
    assert_eq!(flow["steps"][1]["name"], "read it");
    assert_eq!(served["created"], iterations, "{served}");
    assert_eq!(served["read"], iterations, "{served}");
    assert_eq!(served["missing"], 0, "{served}");
    assert_eq!(run["totals"]["requests"], 2 * iterations);
    // Iterations include the think time and both requests.
    let iteration_p50 = flow["latency"]["p50_us"].as_u64().unwrap();
    let step_p50s: u64 = (0..2)
        .map(|i| flow["steps"][i]["latency"]["p50_us"].as_u64().unwrap())
        .sum();
    assert!(iteration_p50 >= 2_000, "{flow}");
    assert!(iteration_p50 * 2 >= step_p50s, "{flow}");
}

#[test]
fn a_broken_pointer_is_an_error_of_its_step_and_ends_the_iteration() {
    let (run, served) = load_flow("flow-broken", "/article/nope");
    let flow = &run["flow"];
    let iterations = flow["iterations"].as_u64().unwrap();
    assert!(iterations > 0, "{run}");
    assert_eq!(flow["failed"], iterations, "{flow}");
    assert_eq!(flow["steps"][0]["errors"], iterations, "{flow}");
    assert_eq!(flow["steps"][0]["error_ratio"], 1.0, "{flow}");
    assert_eq!(flow["steps"][1]["requests"], 0, "{flow}");
    assert_eq!(
        run["totals"]["errors"]["extract"], iterations,
        "{}",
        run["totals"]
    );
    assert_eq!(run["totals"]["error_count"], iterations);
    // The service created one article per iteration and was never asked to read one.
    assert_eq!(served["created"], iterations, "{served}");
    assert_eq!(
        (&served["read"], &served["missing"]),
        (&0.into(), &0.into())
    );
}

/// A lab of two articles services and one flow scenario taking the slug at `pointer`.
fn lab(dir: &Path, pointer: &str) -> PathBuf {
    std::fs::write(dir.join("articles.py"), ARTICLES).unwrap();
    let target = |name: &str, role: &str| {
        format!(
            "[[target]]\nname = \"{name}\"\nrole = \"{role}\"\nstart = [\"python3\", \
             \"{{dir}}/articles.py\", \"{{port}}\", \"{{dir}}/{name}.json\"]\nready = \"/ready\"\n"
        )
    };
    let scenario = format!(
        r#"[[scenario]]
name = "create-then-read"
connections = 4

[[scenario.flow]]
request = "POST /api/articles"
body = '{{"article":{{"title":"t {{uuid}}"}}}}'
headers = {{ content-type = "application/json" }}
extract = {{ slug = "{pointer}" }}

[[scenario.flow]]
request = "GET /api/articles/{{slug}}"
"#
    );
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            "name = \"create, then read\"\n\n{}\n{}\n{scenario}",
            target("one", "baseline"),
            target("two", "candidate"),
        ),
    )
    .unwrap();
    lab
}

#[test]
fn a_lab_measures_a_flow_by_its_iterations_with_its_steps_below() {
    let dir = scratch("flow-lab");
    let out = dir.join("out");
    let output = compare(&lab(&dir, "/article/slug"), &out, &[]);
    assert!(output.status.success(), "{}", text(&output));
    let report = read_json(&out.join("compare.json"));
    for target in report["targets"].as_array().unwrap() {
        let scenario = &target["scenarios"][0];
        let summary = &scenario["summary"];
        let flow = &summary["flow"];
        assert_eq!(flow["failed"], 0, "{summary}");
        assert_eq!(summary["errors"], 0, "{summary}");
        assert_eq!(flow["steps"].as_array().unwrap().len(), 2, "{flow}");
        // The throughput is the completed iterations', the request counts every step's.
        let run = &scenario["rounds"][0]["result"];
        let seconds = run["totals"]["duration_s"].as_f64().unwrap();
        let iterations = flow["iterations"].as_u64().unwrap();
        let throughput = summary["throughput_rps"].as_f64().unwrap();
        assert!(
            (throughput - iterations as f64 / seconds).abs() < 1e-6,
            "{summary}"
        );
        assert_eq!(summary["requests"], 2 * iterations, "{summary}");
        let name = target["name"].as_str().unwrap();
        let served = read_json(&dir.join(format!("{name}.json")));
        assert_eq!(served["missing"], 0, "{name}: {served}");
    }
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("create-then-read › step 2 GET /api/articles/{slug}: p99"),
        "{printed}"
    );
}

#[test]
fn a_lab_flow_whose_pointer_finds_nothing_is_invalid() {
    let dir = scratch("flow-lab-broken");
    let out = dir.join("out");
    let output = compare(&lab(&dir, "/article/nope"), &out, &[]);
    assert_eq!(output.status.code(), Some(5), "{}", text(&output));
    let report = read_json(&out.join("compare.json"));
    let scenario = &report["targets"][0]["scenarios"][0];
    assert_eq!(scenario["valid"], false, "{scenario}");
    assert_eq!(scenario["summary"]["flow"]["steps"][1]["requests"], 0);
}

#[test]
fn the_lab_check_refuses_a_value_used_before_its_step_extracts_it() {
    let dir = scratch("flow-lab-order");
    let lab_file = lab(&dir, "/article/slug");
    let text_of_lab = std::fs::read_to_string(&lab_file).unwrap().replace(
        "request = \"POST /api/articles\"",
        "request = \"POST /api/articles/{slug}\"",
    );
    std::fs::write(&lab_file, text_of_lab).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["compare", "--plan", "--lab"])
        .arg(&lab_file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is extracted by step 1"),
        "{}",
        text(&output)
    );
}
