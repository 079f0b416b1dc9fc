//! `ferry shadow proxy` as a real process: clients get the primary's responses byte for byte,
//! and a candidate that never answers does not hold them up — 1,000 requests all complete,
//! the mirrors that did not fit the queue are dropped and counted, and SIGTERM writes the
//! report. Slug routes through the proxy: one endpoint per `--template`, and the automatic
//! rule groups a position with ten distinct values, not one with nine.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::shadow_servers::{Flavour, scratch, start, url};

/// One keep-alive HTTP/1.1 connection that reads whole responses as raw bytes.
struct RawClient {
    stream: BufReader<TcpStream>,
}

impl RawClient {
    fn connect(address: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(address).expect("connecting to the proxy");
        stream.set_nodelay(true).expect("setting TCP_NODELAY");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("setting a read timeout");
        RawClient {
            stream: BufReader::new(stream),
        }
    }

    /// GET `path`; returns the status line, the headers (lower-case names, minus the
    /// per-response `date` and `x-request-id`) and the body bytes.
    fn get(&mut self, path: &str) -> (String, Vec<String>, Vec<u8>) {
        // One write per request: several small ones would meet Nagle and delayed ACKs.
        let request = format!("GET {path} HTTP/1.1\r\nHost: shadow.test\r\n\r\n");
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .expect("sending a request");
        let mut status = String::new();
        self.stream
            .read_line(&mut status)
            .expect("reading the status line");
        let mut headers = Vec::new();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).expect("reading a header");
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("content-length: ") {
                length = value.parse().expect("content-length is a number");
            }
            if !line.starts_with("date:") && !line.starts_with("x-request-id:") {
                headers.push(line);
            }
        }
        headers.sort();
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body).expect("reading the body");
        (status, headers, body)
    }
}

/// Starts `ferry shadow proxy` on a free port with `extra` arguments and `--json JSON`;
/// returns it, the address it listens on and its stdout after that first line.
fn start_proxy(
    primary: SocketAddr,
    candidate: SocketAddr,
    extra: &[&str],
    json: &PathBuf,
) -> (Child, SocketAddr, BufReader<ChildStdout>) {
    let _ = std::fs::remove_file(json);
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["shadow", "proxy", "--listen", "127.0.0.1:0", "--primary"])
        .arg(url(primary))
        .arg("--candidate")
        .arg(url(candidate))
        .args(extra)
        .arg("--json")
        .arg(json)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting ferry shadow proxy");
    let mut stdout = BufReader::new(proxy.stdout.take().expect("stdout is piped"));
    let mut line = String::new();
    stdout
        .read_line(&mut line)
        .expect("reading the proxy's address");
    let address: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .parse()
        .expect("the printed address parses");
    (proxy, address, stdout)
}

/// Stops the proxy as an operator would (SIGTERM writes the final report); returns its
/// summary and the report.
fn stop_proxy(
    mut proxy: Child,
    mut stdout: BufReader<ChildStdout>,
    json: &PathBuf,
) -> (String, serde_json::Value) {
    let pid = nix::unistd::Pid::from_raw(proxy.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signalling the proxy");
    let status = proxy.wait().expect("waiting for the proxy");
    let mut rest = String::new();
    stdout
        .read_to_string(&mut rest)
        .expect("reading the summary");
    assert!(status.success(), "{status}: {rest}");
    let report = serde_json::from_str(
        &std::fs::read_to_string(json).expect("the report is written on SIGTERM"),
    )
    .expect("the report is JSON");
    (rest, report)
}

#[test]
fn clients_get_the_primary_unchanged_while_the_candidate_hangs() {
    let primary = start(Flavour::Old);
    let candidate = start(Flavour::Hang);
    let json = scratch("proxy.json");
    let (proxy, address, stdout) = start_proxy(
        primary,
        candidate,
        &[
            "--queue",
            "16",
            "-c",
            "4",
            "--timeout",
            "60s",
            "--report-every",
            "1h",
        ],
        &json,
    );

    // Byte for byte: binary and large bodies, status and headers, through the proxy and direct.
    let mut through = RawClient::connect(address);
    let mut direct = RawClient::connect(primary);
    for path in ["/blob/3", "/big/1", "/orders/4", "/nowhere", "/health"] {
        assert_eq!(through.get(path), direct.get(path), "{path}");
    }

    // 1,000 requests while every mirror waits on the candidate: all answered.
    let started = Instant::now();
    let mut clients: Vec<RawClient> = (0..4).map(|_| RawClient::connect(address)).collect();
    for number in 0..1000 {
        let (status, _, body) = clients[number % 4].get(&format!("/orders/{number}"));
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert!(!body.is_empty());
    }
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the clients waited on the candidate (took {:?})",
        started.elapsed()
    );

    let (rest, report) = stop_proxy(proxy, stdout, &json);
    assert!(rest.contains("mirrors dropped"), "{rest}");
    let requests = &report["requests"];
    assert_eq!(requests["read"], 1005);
    // Only the queue (16), the mirrors in flight (4) and the one the dispatcher holds while
    // it waits for a slot got through; every other mirror was dropped.
    let mirrored = requests["sent"].as_u64().unwrap();
    assert!(mirrored <= 4 + 1, "{requests}");
    assert!(
        requests["dropped"].as_u64().unwrap() >= 1005 - 16 - 4 - 1,
        "{requests}"
    );
    assert_eq!(report["errors"]["primary"]["errors"], 0);
    assert_eq!(report["mode"], "proxy");
}

/// Every endpoint of a report with its request count.
fn endpoints(report: &serde_json::Value) -> BTreeMap<String, u64> {
    report["endpoints"]
        .as_array()
        .expect("endpoints is an array")
        .iter()
        .map(|endpoint| {
            (
                endpoint["endpoint"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                endpoint["requests"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn slug_routes_are_grouped_by_template_and_by_the_automatic_rule() {
    let (primary, candidate) = (start(Flavour::Old), start(Flavour::Old));
    let json = scratch("proxy-routes.json");
    let (proxy, address, stdout) = start_proxy(
        primary,
        candidate,
        &["--template", "/articles/{slug}", "--report-every", "100ms"],
        &json,
    );
    // Three slugs under the template; ten names under /tags (grouped by the rule), nine
    // under /colours (not grouped: fewer than ten); none is an id by the UUID/number/hex rule.
    let mut paths: Vec<String> = ["how-to-train", "welcome", "rust-in-prod"]
        .iter()
        .map(|slug| format!("/articles/{slug}"))
        .collect();
    paths.extend((0..10).map(|n| format!("/tags/tag-{n}")));
    paths.extend((0..9).map(|n| format!("/colours/colour-{n}")));
    let mut client = RawClient::connect(address);
    for path in &paths {
        let (status, _, _) = client.get(path);
        assert!(!status.is_empty(), "{path}");
    }
    // Mirrors finish after the clients' answers: wait until the periodic report has them all.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let compared = std::fs::read_to_string(&json)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|report| report["requests"]["compared"].as_u64());
        if compared == Some(paths.len() as u64) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mirrors not compared: {compared:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, report) = stop_proxy(proxy, stdout, &json);
    let endpoints = endpoints(&report);
    assert_eq!(
        endpoints.get("GET /articles/{slug}"),
        Some(&3),
        "{endpoints:?}"
    );
    assert_eq!(endpoints.get("GET /tags/{id}"), Some(&10), "{endpoints:?}");
    for n in 0..9 {
        let name = format!("GET /colours/colour-{n}");
        assert_eq!(endpoints.get(&name), Some(&1), "{endpoints:?}");
    }
    assert_eq!(endpoints.len(), 1 + 1 + 9, "{endpoints:?}");
}
