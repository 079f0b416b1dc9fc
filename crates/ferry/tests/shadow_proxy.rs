//! `ferry shadow proxy` as a real process: clients get the primary's responses byte for byte,
//! and a candidate that never answers does not hold them up — 1,000 requests all complete,
//! the mirrors that did not fit the queue are dropped and counted, and SIGTERM writes the
//! report.

mod shadow_servers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shadow_servers::{Flavour, scratch, start, url};

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

#[test]
fn clients_get_the_primary_unchanged_while_the_candidate_hangs() {
    let primary = start(Flavour::Old);
    let candidate = start(Flavour::Hang);
    let json = scratch("proxy.json");
    let _ = std::fs::remove_file(&json);
    let mut proxy = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["shadow", "proxy", "--listen", "127.0.0.1:0", "--primary"])
        .arg(url(primary))
        .arg("--candidate")
        .arg(url(candidate))
        .args([
            "--queue",
            "16",
            "-c",
            "4",
            "--timeout",
            "60s",
            "--report-every",
            "1h",
            "--json",
        ])
        .arg(&json)
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

    // Stop it as an operator would: SIGTERM writes the final report.
    let pid = nix::unistd::Pid::from_raw(proxy.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("signalling the proxy");
    let status = proxy.wait().expect("waiting for the proxy");
    let mut rest = String::new();
    stdout
        .read_to_string(&mut rest)
        .expect("reading the summary");
    assert!(status.success(), "{status}: {rest}");
    assert!(rest.contains("mirrors dropped"), "{rest}");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&json).expect("the report is written on SIGTERM"),
    )
    .expect("the report is JSON");
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
