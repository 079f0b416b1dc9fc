//! CPU figures checked against what the services really did (issue 19, findings 2 and 7).
//!
//! - A target of known CPU cost per request: a Python server that forks a child per request
//!   to burn CPU (the child dies before any sampler sees it, so its time reaches the tree
//!   only through its parent's `cutime`/`cstime`). ferry's CPU per request must agree with
//!   the kernel's own count of the tree's time (`os.times()` at its end), every written
//!   sample and mean must stay within `cores` × 100 %, and no two written samples may be
//!   less than 50 ms apart. Before, a sampler that summed `utime + stime` of the processes
//!   it had seen read a fraction of it, and readings microseconds apart reached 7000 %.
//! - The database's share ([`database`]).
//!
//! Properties, never speeds: the servers' own counts are the reference.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{free_port, read_json, scratch, text};

mod database;

/// Burns ~12 ms of CPU in a child forked per request and ~2 ms in the handling thread; on
/// SIGTERM writes its tree's CPU seconds by the kernel (its own threads plus every child
/// it reaped) and the requests it served, then exits.
const BURNER: &str = r#"
import http.server, os, signal, sys, threading, time
port, times_file = int(sys.argv[1]), sys.argv[2]
served = 0
lock = threading.Lock()
def burn(seconds):
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    def do_GET(self):
        global served
        child = os.fork()
        if child == 0:
            burn(0.012)
            os._exit(0)
        burn(0.002)
        os.waitpid(child, 0)
        with lock:
            served += 1
        body = b"burnt\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
def dump(*_):
    t = os.times()
    with open(times_file, "w") as f:
        f.write(f"{t.user + t.system + t.children_user + t.children_system} {served}\n")
    os._exit(0)
signal.signal(signal.SIGTERM, dump)
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
"#;

pub(super) fn ferry_compare(
    lab: &Path,
    out: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferry"));
    command
        .args(["compare", "--lab"])
        .arg(lab)
        .args(["--duration", "2s", "--warmup", "0.5s", "--rounds", "1"])
        .args([
            "--cold-starts",
            "1",
            "--no-pgbench",
            "--no-progress",
            "--out",
        ])
        .arg(out)
        .args(extra)
        .env_remove("DATABASE_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command
        .output()
        .expect("running the ferry binary cargo built for this test");
    assert!(
        output.status.success(),
        "ferry compare failed:\n{}",
        text(&output)
    );
    output
}

/// A server the test runs itself (an attached target), killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(script: &Path, args: &[&str], port: u16) -> Server {
    let child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("python3 is installed (scripts/setup.sh)");
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port))).is_err() {
        assert!(
            Instant::now() < deadline,
            "the Python server did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    server
}

/// The kernel's count, as the server wrote it on SIGTERM: CPU seconds of its tree over
/// its life, and the requests it served.
fn kernel_count(path: &Path) -> (f64, f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Some((cpu, served)) = text.trim().split_once(' ')
        {
            return (
                cpu.parse().expect("CPU seconds"),
                served.parse().expect("a count"),
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} was not written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub(super) fn number(value: &Value, what: &str) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{what} is a number: {value}"))
}

/// Every written sample and the mean within the machine's cores, and no two written
/// samples less than 50 ms apart.
fn assert_honest_samples(name: &str, round: &Value, cap: f64) {
    let mean = number(&round["cpu_mean_percent"], "cpu_mean_percent");
    assert!(mean <= cap, "{name}: mean {mean}% above {cap}%");
    let samples = round["samples"].as_array().expect("samples[]");
    assert!(
        samples.len() >= 10,
        "{name}: {} samples in 2.5 s",
        samples.len()
    );
    let highest = samples
        .iter()
        .map(|s| number(&s["cpu_percent"], "cpu_percent"))
        .fold(0.0, f64::max);
    eprintln!(
        "{name}: {} samples, the highest {highest:.1}%, the cap {cap}%",
        samples.len()
    );
    let mut last: Option<f64> = None;
    for sample in samples {
        let (t, cpu) = (
            number(&sample["t_s"], "t_s"),
            number(&sample["cpu_percent"], "cpu_percent"),
        );
        assert!(cpu <= cap, "{name}: sample {sample} above {cap}%");
        if let Some(last) = last {
            assert!(
                t - last >= 0.05,
                "{name}: samples {last} and {t} are < 50 ms apart"
            );
        }
        last = Some(t);
    }
}

#[test]
fn cpu_per_request_agrees_with_the_kernels_count_of_the_tree() {
    let dir = scratch("cpu");
    let script = dir.join("burner.py");
    std::fs::write(&script, BURNER).expect("writing the server");
    let out = dir.join("out");
    let (attached_port, attached_times) = (free_port(), dir.join("attached.times"));
    let attached = start(
        &script,
        &[
            &attached_port.to_string(),
            attached_times.to_str().expect("a UTF-8 temp dir"),
        ],
        attached_port,
    );
    std::fs::write(dir.join("attached.pid"), attached.0.id().to_string()).expect("pid file");
    let lab = dir.join("lab.toml");
    std::fs::write(
        &lab,
        format!(
            r#"name = "known CPU per request"

[[target]]
name = "started"
role = "baseline"
start = ["python3", "{{dir}}/burner.py", "{{port}}", "{{out}}/started.times"]

[[target]]
name = "attached"
role = "candidate"
url = "http://127.0.0.1:{attached_port}"
pid_file = "{{dir}}/attached.pid"

[[scenario]]
name = "burn"
request = "GET /"
connections = 4
"#
        ),
    )
    .expect("writing the lab");
    ferry_compare(&lab, &out, &[], &[]);
    // ferry stopped the started one with SIGTERM; the attached one is ours to stop.
    let status = Command::new("kill")
        .args(["-TERM", &attached.0.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());

    let json = read_json(&out.join("compare.json"));
    let cap = number(&json["cores"], "cores") * 100.0;
    for (target, times) in [
        (&json["targets"][0], out.join("started.times")),
        (&json["targets"][1], attached_times),
    ] {
        let name = target["name"].as_str().expect("a name");
        let round = &target["scenarios"][0]["rounds"][0];
        assert_honest_samples(name, round, cap);
        let (kernel_cpu, served) = kernel_count(&times);
        let truth_ms = kernel_cpu / served * 1000.0;
        let totals = &round["result"]["totals"];
        let measured_ms = number(&round["cpu_mean_percent"], "cpu_mean_percent") / 100.0
            * number(&totals["duration_s"], "duration_s")
            / number(&totals["responses"], "responses")
            * 1000.0;
        eprintln!(
            "{name}: ferry {measured_ms:.2} ms of CPU per request, the kernel {truth_ms:.2} ms \
             ({kernel_cpu:.2} s over {served} requests); mean {}%, {} samples clamped",
            round["cpu_mean_percent"], round["cpu_clamped_samples"]
        );
        // Most of the CPU is in children that die within a sampling interval: a sampler
        // that misses them reads a fraction of this.
        assert!(
            (measured_ms / truth_ms - 1.0).abs() <= 0.3,
            "{name}: ferry counted {measured_ms:.2} ms of CPU per request, the kernel \
             {truth_ms:.2} ms"
        );
    }
}
