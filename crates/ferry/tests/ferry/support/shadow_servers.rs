//! Test services for `ferry shadow`: one small JSON API served by real hyper servers on
//! loopback, in a primary/secondary flavour and in candidate flavours that differ on purpose,
//! hang, or go away. Every response carries a random `x-request-id`, and `/users/{id}` a
//! random `served_at`: fields that differ between any two copies of the same service.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// How a test service answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    /// The old service (primary and secondary).
    Old,
    /// The candidate that differs on purpose: `/users/{id}` changes `email`, `/health` its
    /// `x-api-version` header, `/orders/{id}` answers 500 (same body) when id % 4 == 0,
    /// `/blob/{n}` and `/big/{n}` change their last byte.
    Different,
    /// Never answers: reads the request and waits forever.
    Hang,
    /// Answers like [`Flavour::Old`] this many requests, then goes away: stops accepting and
    /// closes every connection without answering.
    GoneAfter(u64),
}

/// Bytes of a `/big/{n}` body: over the 64 KiB body limit the tests set.
pub const BIG_BODY: usize = 3 << 20;

/// Starts a service on its own thread; it lives as long as the test process.
pub fn start(flavour: Flavour) -> SocketAddr {
    let listener = StdListener::bind("127.0.0.1:0").expect("binding an ephemeral loopback port");
    listener
        .set_nonblocking(true)
        .expect("setting a fresh listener non-blocking");
    let address = listener
        .local_addr()
        .expect("a bound listener has an address");
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("building the test service's runtime");
        runtime.block_on(serve(listener, flavour));
    });
    address
}

async fn serve(listener: StdListener, flavour: Flavour) {
    let listener = TcpListener::from_std(listener).expect("registering the listener with tokio");
    let served = Arc::new(AtomicU64::new(0));
    let (gone_tx, gone_rx) = tokio::sync::watch::channel(false);
    loop {
        let mut gone = gone_rx.clone();
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = gone.wait_for(|gone| *gone) => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let served = served.clone();
        let gone_tx = gone_tx.clone();
        let mut gone = gone_rx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let served = served.clone();
                let gone_tx = gone_tx.clone();
                async move {
                    let number = served.fetch_add(1, Ordering::SeqCst) + 1;
                    match flavour {
                        Flavour::Hang => {
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        Flavour::GoneAfter(limit) if number > limit => {
                            let _ = gone_tx.send(true);
                            return Err("gone");
                        }
                        _ => {}
                    }
                    Ok::<_, &str>(answer(flavour, request.uri().path()))
                }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = connection => {}
                _ = gone.wait_for(|gone| *gone) => {}
            }
        });
    }
}

fn answer(flavour: Flavour, path: &str) -> Response<Full<Bytes>> {
    let different = flavour == Flavour::Different;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let id: u64 = segments.get(1).and_then(|id| id.parse().ok()).unwrap_or(0);
    let (status, content_type, body): (u16, &str, Vec<u8>) = match segments[0] {
        "users" => {
            let email = if different {
                format!("USER{id}@example.com")
            } else {
                format!("user{id}@example.com")
            };
            let body = serde_json::json!({
                "id": id,
                "email": email,
                "served_at": format!("{}", fastrand::u64(..)),
                "tags": ["a", "b"],
            });
            (200, "application/json", body.to_string().into_bytes())
        }
        "orders" => {
            let status = if different && id.is_multiple_of(4) {
                500
            } else {
                200
            };
            let body = serde_json::json!({"order": id, "total": 10});
            (status, "application/json", body.to_string().into_bytes())
        }
        "health" => (200, "text/plain", b"ok".to_vec()),
        // Slug routes, for the route grouping: `/articles/{slug}`, `/tags/{name}`.
        "articles" | "tags" => {
            let body = serde_json::json!({"slug": segments.get(1).copied().unwrap_or("")});
            (200, "application/json", body.to_string().into_bytes())
        }
        "blob" => {
            // Not UTF-8, not JSON.
            let mut body: Vec<u8> = (0..=255u8).cycle().take(1000 + id as usize).collect();
            if different {
                *body.last_mut().expect("blobs are not empty") ^= 0xff;
            }
            (200, "application/octet-stream", body)
        }
        "big" => {
            let mut body: Vec<u8> = (0..BIG_BODY).map(|i| (i % 253) as u8).collect();
            if different {
                *body.last_mut().expect("big bodies are not empty") ^= 0xff;
            }
            (200, "application/octet-stream", body)
        }
        _ => (
            404,
            "application/json",
            br#"{"error":"not found"}"#.to_vec(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::from_u16(status).expect("the routes use valid statuses");
    let headers = response.headers_mut();
    headers.insert(
        "content-type",
        content_type.parse().expect("a valid content type"),
    );
    headers.insert(
        "x-request-id",
        format!("{:032x}", fastrand::u128(..))
            .parse()
            .expect("hex is a valid header value"),
    );
    let version = if different && segments[0] == "health" {
        "2"
    } else {
        "1"
    };
    headers.insert(
        "x-api-version",
        version.parse().expect("a digit is a valid header value"),
    );
    response
}

/// A request-lines file under the test's temporary directory.
pub fn write_requests(name: &str, lines: &[String]) -> PathBuf {
    let path = scratch(name);
    std::fs::write(&path, lines.join("\n") + "\n").expect("the temporary directory is writable");
    path
}

/// A fresh path in the temporary directory, unique to this process.
pub fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("ferry-shadow-{}-{name}", std::process::id()))
}

pub fn url(address: SocketAddr) -> String {
    format!("http://{address}")
}

/// The arguments of a replay: the targets, `--requests` and `extra`.
pub fn replay_args(
    primary: &str,
    secondary: Option<&str>,
    candidate: &str,
    requests: &str,
    extra: &[&str],
) -> Vec<String> {
    let mut args = vec!["--primary", primary];
    if let Some(secondary) = secondary {
        args.extend(["--secondary", secondary]);
    }
    args.extend(["--candidate", candidate, "--requests", requests]);
    args.extend(extra);
    args.into_iter().map(str::to_string).collect()
}

/// Runs `ferry shadow` with `args`, `--no-progress` and `--json JSON`; returns the output
/// and the parsed report (when written).
pub fn shadow(args: &[String], json: &PathBuf) -> (Output, Option<serde_json::Value>) {
    let _ = std::fs::remove_file(json);
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("shadow")
        .args(args)
        .arg("--no-progress")
        .arg("--json")
        .arg(json)
        .output()
        .expect("running the ferry binary cargo built for this test");
    let report = std::fs::read_to_string(json)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("the shadow report is JSON"));
    (output, report)
}

/// `(endpoint, field, kind)` of every regression in a report.
pub fn regressions(report: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for endpoint in report["endpoints"]
        .as_array()
        .expect("endpoints is an array")
    {
        for field in endpoint["regressions"]
            .as_array()
            .expect("regressions is an array")
        {
            out.push((
                endpoint["endpoint"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                field["field"].as_str().unwrap_or_default().to_string(),
                field["kind"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    out.sort();
    out
}

/// The noise entry of `field` on `endpoint`, if any.
pub fn noise<'a>(
    report: &'a serde_json::Value,
    endpoint: &str,
    field: &str,
) -> Option<&'a serde_json::Value> {
    report["endpoints"]
        .as_array()?
        .iter()
        .find(|entry| entry["endpoint"] == endpoint)?["noise"]
        .as_array()?
        .iter()
        .find(|entry| entry["field"] == field)
}
