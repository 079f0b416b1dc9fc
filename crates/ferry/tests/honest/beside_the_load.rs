//! What a lab runs beside the load (issue 21: the benchmark scripts' steps as lab keys):
//! `idle_connections` held open through each measured run, a `[[background]]` process running
//! through the measurements and gone with its children after, and `values_order =
//! "round-robin"` walking a values file in order. A small Python service records, for every
//! request it serves, the path, how many connections it then holds open and whether the
//! background process is alive.

use std::path::Path;

use ferry::compare::lab::{self, LabError, LoadOptions};

use super::support::{compare, read_json, scratch, text};

/// `service.py PORT SEEN_FILE PID_FILE`: `GET /ready` answers 200 unrecorded; any other
/// request is recorded as `PATH OPEN_CONNECTIONS alive|dead` (the process in PID_FILE).
const SERVICE: &str = r##"
import http.server, os, sys, threading
port, seen_file, pid_file = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lock = threading.Lock()
connections = [0]

def alive():
    try:
        os.kill(int(open(pid_file).read()), 0)
        return "alive"
    except (OSError, ValueError):
        return "dead"

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def setup(self):
        super().setup()
        with lock:
            connections[0] += 1
    def finish(self):
        with lock:
            connections[0] -= 1
        super().finish()
    def do_GET(self):
        if self.path != "/ready":
            with lock, open(seen_file, "a") as seen:
                seen.write(f"{self.path} {connections[0]} {alive()}\n")
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")
    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"##;

const IDLE: usize = 20;

const LAB: &str = r#"name = "beside the load"

[[background]]
name = "a sleeper and its child"
run = ["sh", "-c", "echo $$ > {out}/background.pid; sleep 600 & echo $! > {out}/child.pid; wait"]

[[target]]
name = "a"
role = "baseline"
start = ["python3", "{dir}/service.py", "{port}", "{out}/seen.log", "{out}/background.pid"]
ready = "/ready"

[[scenario]]
name = "walk"
request = "GET /items/{id}"
values = { id = "{dir}/ids.txt" }
values_order = "round-robin"
connections = 1
idle_connections = 20
"#;

const IDS: [&str; 7] = ["10", "11", "12", "13", "14", "15", "16"];

/// A process is gone when /proc has no such pid, or only its zombie (no reaper in a container).
fn gone(pid_file: &Path) -> bool {
    let pid = std::fs::read_to_string(pid_file)
        .unwrap_or_else(|error| panic!("{}: {error}", pid_file.display()));
    match std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn idle_connections_background_processes_and_round_robin_values_run_beside_the_load() {
    let dir = scratch("beside");
    std::fs::write(dir.join("service.py"), SERVICE).unwrap();
    std::fs::write(dir.join("ids.txt"), IDS.join("\n") + "\n").unwrap();
    std::fs::write(dir.join("lab.toml"), LAB).unwrap();
    let out = dir.join("out");
    let output = compare(&dir.join("lab.toml"), &out, &[]);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(read_json(&out.join("compare.json"))["complete"], true);

    let seen = std::fs::read_to_string(out.join("seen.log")).unwrap();
    let rows: Vec<Vec<&str>> = seen.lines().map(|l| l.split(' ').collect()).collect();
    assert!(
        rows.len() > IDS.len(),
        "the run wrapped around the file: {seen}"
    );
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(
            row[0],
            format!("/items/{}", IDS[index % IDS.len()]),
            "row {index}"
        );
        let open: usize = row[1].parse().unwrap();
        assert!(
            open > IDLE,
            "row {index}: {open} connections open, not {IDLE} idle + 1"
        );
        assert_eq!(
            row[2], "alive",
            "row {index}: the background process was not running"
        );
    }
    assert!(
        gone(&out.join("background.pid")),
        "the background process outlived the run"
    );
    assert!(
        gone(&out.join("child.pid")),
        "the background process's child outlived the run"
    );
    let log = std::fs::read_to_string(out.join("logs/background.log")).unwrap_or_default();
    assert!(!log.contains("ended before"), "{log}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lab error of `lab_text` (the ids file beside it).
fn refused(test: &str, lab_text: &str) -> LabError {
    let dir = scratch(&format!("beside-{test}"));
    std::fs::write(dir.join("ids.txt"), "1\n").unwrap();
    let path = dir.join("lab.toml");
    std::fs::write(&path, lab_text).unwrap();
    let error = lab::load(&path, &LoadOptions::default()).expect_err("the lab is refused");
    let found = error
        .downcast_ref::<LabError>()
        .unwrap_or_else(|| panic!("not a LabError: {error:#}"))
        .clone();
    let _ = std::fs::remove_dir_all(&dir);
    found
}

#[test]
fn a_bad_values_order_and_a_background_output_are_refused_with_their_key() {
    let sorted = LAB.replace(r#""round-robin""#, r#""sorted""#);
    assert_eq!(refused("order", &sorted).key, "scenario.walk.values_order");
    let no_values = LAB.replace(r#"values = { id = "{dir}/ids.txt" }"#, "");
    let no_values = no_values.replace("{id}", "1");
    assert_eq!(
        refused("novalues", &no_values).key,
        "scenario.walk.values_order"
    );
    let output = LAB.replace("wait\"]", "wait\"]\noutput = \"pid\"");
    assert_eq!(
        refused("output", &output).key,
        "background.a sleeper and its child.output"
    );
}
