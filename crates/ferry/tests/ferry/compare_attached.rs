//! A lab of targets that are already running, both ways: one on this machine given by url +
//! pid (CPU and RSS of its process tree), one treated as another machine given by url +
//! metrics (CPU and RSS from its Prometheus process metrics). Both are real Python
//! processes; ferry cannot restart them, so neither has a cold start, and the report says so
//! and names both machines. Timing is never asserted.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A small HTTP/1.1 keep-alive server that also exposes its own process metrics.
const SERVER: &str = r##"
import http.server, os, sys
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        if self.path == "/metrics":
            times = os.times()
            pages = int(open("/proc/self/statm").read().split()[1])
            body = ("# TYPE process_cpu_seconds_total counter\n"
                    f"process_cpu_seconds_total {times.user + times.system}\n"
                    f"process_resident_memory_bytes {pages * os.sysconf('SC_PAGE_SIZE')}\n").encode()
        else:
            body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"##;

/// A running server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(script: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port();
    let child = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 is installed (scripts/setup.sh)");
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(address).is_err() {
        assert!(
            Instant::now() < deadline,
            "the Python server did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port }
}

#[test]
fn attached_targets_by_pid_and_by_metrics_are_measured_without_a_cold_start() {
    let dir = std::env::temp_dir().join(format!("ferry-attached-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("server.py");
    std::fs::write(&script, SERVER).unwrap();
    let local = start_server(&script);
    let remote = start_server(&script);
    std::fs::write(dir.join("local.pid"), local.child.id().to_string()).unwrap();
    let lab = write_lab(&dir, &local, &remote);
    let out = dir.join("out");
    compare(&lab, &out);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["complete"], true, "{}", json["failure"]);
    both_measured_from_outside(&json);
    the_report_says_why(&json, &out);
    drop((local, remote));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lab: `local` attached by its pid file, `remote` by its metrics on another machine.
fn write_lab(dir: &Path, local: &Server, remote: &Server) -> PathBuf {
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            r#"name = "already running"

[[target]]
name = "local"
role = "baseline"
url = "http://127.0.0.1:{}"
pid_file = "{{dir}}/local.pid"

[[target]]
name = "staging"
role = "candidate"
url = "http://127.0.0.1:{}"
metrics = "/metrics"
machine = "staging-box"

[[scenario]]
name = "get"
request = "GET /"
connections = 4
"#,
            local.port, remote.port
        ),
    )
    .unwrap();
    lab
}

/// `ferry compare --quick` on the lab, which must succeed and print both targets.
fn compare(lab: &Path, out: &Path) {
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["compare", "--quick", "--no-progress", "--lab"])
        .arg(lab)
        .arg("--out")
        .arg(out)
        .output()
        .expect("running the ferry binary cargo built for this test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ferry compare failed:\n{}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("| metric | local | staging | staging / local |"),
        "{stdout}"
    );
}

/// Both targets measured as what they are (attached, remote), with samples and no cold start.
fn both_measured_from_outside(json: &serde_json::Value) {
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets[0]["kind"], "attached");
    assert_eq!(targets[1]["kind"], "remote");
    assert_eq!(targets[1]["machine"], "staging-box");
    assert_ne!(targets[0]["machine"], "staging-box");
    for target in targets {
        let name = target["name"].as_str().unwrap();
        assert!(target["cold_start"].is_null(), "{name} cannot be restarted");
        let round = &target["scenarios"][0]["rounds"][0];
        assert!(
            round["result"]["totals"]["responses"].as_u64().unwrap() > 0,
            "{name}"
        );
        assert_eq!(round["result"]["totals"]["error_count"], 0, "{name}");
        let samples = round["samples"].as_array().unwrap();
        assert!(!samples.is_empty(), "{name}: no CPU/RSS samples");
        assert!(
            samples
                .iter()
                .all(|s| s["rss_bytes"].as_u64().unwrap() > 1_000_000),
            "{name}: the RSS of a Python process is megabytes: {samples:?}"
        );
    }
    // Only the metrics say what the remote one used: its samples come every second, the
    // process tree's every 100 ms.
    let count = |i: usize| {
        targets[i]["scenarios"][0]["rounds"][0]["samples"]
            .as_array()
            .unwrap()
            .len()
    };
    assert!(
        count(0) > count(1),
        "{} tree samples, {} metrics samples",
        count(0),
        count(1)
    );
}

/// The notes and the HTML report say who was already running and on which machine.
fn the_report_says_why(json: &serde_json::Value, out: &Path) {
    let notes = json["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(notes.contains("local was already running"), "{notes}");
    assert!(notes.contains("no cold start"), "{notes}");
    assert!(
        notes.contains("staging-box") && notes.contains(json["machine"].as_str().unwrap()),
        "{notes}"
    );
    let html = std::fs::read_to_string(out.join("compare.html")).unwrap();
    assert!(
        html.contains("have no cold start"),
        "the report says why there is no cold start"
    );
}
