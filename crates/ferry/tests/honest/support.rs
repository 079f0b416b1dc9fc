//! What the tests of this binary share: a scratch folder, a small Python HTTP service written
//! by the test, and `ferry compare` run as a real process on a lab file the test writes.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The short settings every lab test runs with: one round of one second, one cold start,
/// two capacity probes, no pgbench.
pub const SHORT: &[&str] = &[
    "--duration",
    "1s",
    "--warmup",
    "200ms",
    "--rounds",
    "1",
    "--cold-starts",
    "1",
    "--capacity-probes",
    "2",
    "--no-pgbench",
    "--no-progress",
];

/// A fresh, empty folder for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferry-honest-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creating a folder under the temp dir");
    dir
}

/// `ferry compare --lab LAB --out OUT` with [`SHORT`] and `extra`.
pub fn compare(lab: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["compare", "--lab"])
        .arg(lab)
        .arg("--out")
        .arg(out)
        .args(SHORT)
        .args(extra)
        .env_remove("DATABASE_URL")
        .output()
        .expect("running the ferry binary cargo built for this test")
}

/// Both streams of `output`, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\nstderr:\n{}\nstdout:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    )
}

pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A Python HTTP/1.1 keep-alive server started by a test (not by ferry), killed when dropped.
pub struct PythonServer {
    child: Child,
    pub port: u16,
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PythonServer {
    /// Runs `script` (it takes its port as its first argument) and waits until it listens.
    pub fn start(script: &Path, args: &[&str]) -> PythonServer {
        let port = free_port();
        let child = Command::new("python3")
            .arg(script)
            .arg(port.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 is installed (scripts/setup.sh)");
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < deadline,
                "{} did not listen",
                script.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        PythonServer { child, port }
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// A Python server that answers every request with `STATUS` (its second argument) and the
/// body `hello`, and counts what it received in the file named by its third argument (one
/// line per request), so that a test can tell which server got the load. `GET /ready`
/// answers 200 and is not counted. An optional fourth argument is the body's size in bytes.
pub const COUNTING_SERVER: &str = r##"
import http.server, sys
status, log = int(sys.argv[2]), sys.argv[3]
body = b"x" * int(sys.argv[4]) if len(sys.argv) > 4 else b"hello\n"
class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def answer(self):
        if self.path == "/ready":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        with open(log, "a") as counted:
            counted.write(self.command + " " + self.path + "\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_GET = do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"##;

/// Lines in `file`, 0 when it does not exist.
pub fn lines_in(file: &Path) -> usize {
    std::fs::read_to_string(file).map_or(0, |text| text.lines().count())
}
