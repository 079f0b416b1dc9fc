//! HTTP/1.1 edge cases (RFC 9112) with the answer each must get, on raw TCP: request
//! smuggling shapes (both framings, two lengths, obs-fold), HTTP/1.0 and pipelining.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::Target;
use crate::http::{RawReply, raw, read_raw};

const WAIT: Duration = Duration::from_secs(10);

async fn connect(target: &Target) -> TcpStream {
    TcpStream::connect(target.authority())
        .await
        .unwrap_or_else(|error| panic!("[{}] connecting: {error}", target.name))
}

/// After `reply`, has the server closed the connection (within a short wait)?
async fn closed_after(stream: &mut TcpStream, reply: &RawReply) -> bool {
    reply.closed || read_raw(stream, Duration::from_secs(3)).await.closed
}

/// `Content-Length` and `Transfer-Encoding: chunked` together: 400, or the chunked
/// framing wins and the connection closes after the response (RFC 9112 §6.3).
pub async fn edge_content_length_with_chunked(target: &Target) {
    let body = r#"{"records":[1]}"#;
    let request = format!(
        "POST /api/v1/process HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
        target.authority(),
        body.len()
    );
    let mut stream = connect(target).await;
    let _ = stream.write_all(request.as_bytes()).await;
    let reply = read_raw(&mut stream, WAIT).await;
    let what = format!("[{}] Content-Length and chunked together", target.name);
    match reply.status {
        Some(400) => {}
        Some(200) => assert!(
            closed_after(&mut stream, &reply).await,
            "{what}: chunked won (200), so the connection must close after the response"
        ),
        other => panic!(
            "{what}: expected 400, or 200 then close; got {other:?}: {:?}",
            reply.head
        ),
    }
}

/// Two different `Content-Length` values: 400.
pub async fn edge_two_content_lengths_is_400(target: &Target) {
    let request = format!(
        "POST /api/v1/process HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 15\r\nContent-Length: 16\r\n\r\n{{\"records\":[1]}} ",
        target.authority()
    );
    let reply = raw(target, request.as_bytes(), WAIT).await;
    assert_eq!(
        reply.status,
        Some(400),
        "[{}] two different Content-Length values; head {:?}",
        target.name,
        reply.head
    );
}

/// A header line continued on the next (obs-fold, RFC 9112 §5.2): 400.
pub async fn edge_obs_fold_is_400(target: &Target) {
    let request = format!(
        "GET /health/live HTTP/1.1\r\nHost: {}\r\nX-Folded: first\r\n second\r\n\
         Connection: close\r\n\r\n",
        target.authority()
    );
    let reply = raw(target, request.as_bytes(), WAIT).await;
    assert_eq!(
        reply.status,
        Some(400),
        "[{}] obs-fold in a header; head {:?}",
        target.name,
        reply.head
    );
}

/// HTTP/1.0: an answer, then a close, unless the request asked for keep-alive.
pub async fn edge_http10_closes_unless_keep_alive(target: &Target) {
    let mut stream = connect(target).await;
    stream
        .write_all(b"GET /health/live HTTP/1.0\r\n\r\n")
        .await
        .expect("writing an HTTP/1.0 request");
    let reply = read_raw(&mut stream, WAIT).await;
    let what = format!("[{}] HTTP/1.0 without keep-alive", target.name);
    assert_eq!(reply.status, Some(200), "{what}: head {:?}", reply.head);
    assert!(
        closed_after(&mut stream, &reply).await,
        "{what}: must close after the answer"
    );

    let mut stream = connect(target).await;
    let what = format!("[{}] HTTP/1.0 with Connection: keep-alive", target.name);
    for round in 0..2 {
        stream
            .write_all(b"GET /health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            .await
            .unwrap_or_else(|error| panic!("{what}: writing request {round}: {error}"));
        let reply = read_raw(&mut stream, WAIT).await;
        assert_eq!(
            reply.status,
            Some(200),
            "{what}: request {round}: head {:?}",
            reply.head
        );
        assert!(
            !reply.closed,
            "{what}: request {round}: the connection stays open"
        );
    }
}

/// Splits `bytes` into responses framed by `Content-Length`; returns the complete ones.
fn split_responses(mut bytes: &[u8]) -> Vec<RawReply> {
    let mut replies = Vec::new();
    while let Some(at) = bytes.windows(4).position(|window| window == b"\r\n\r\n") {
        let head = String::from_utf8_lossy(&bytes[..at]).into_owned();
        let reply = RawReply {
            status: None,
            head,
            body: Vec::new(),
            closed: false,
        };
        let length: usize = reply
            .header("content-length")
            .and_then(|value| value.parse().ok())
            .unwrap_or(0);
        if bytes.len() < at + 4 + length {
            break;
        }
        let status = reply
            .head
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok());
        replies.push(RawReply {
            status,
            body: bytes[at + 4..at + 4 + length].to_vec(),
            ..reply
        });
        bytes = &bytes[at + 4 + length..];
    }
    replies
}

/// More than 16 pipelined requests in one write: all answered, in order.
pub async fn edge_pipelined_requests_in_order(target: &Target) {
    const REQUESTS: usize = 40;
    let mut requests = String::new();
    for n in 0..REQUESTS {
        let path = if n % 2 == 0 {
            "/health/live"
        } else {
            "/no-such-route"
        };
        requests.push_str(&format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Request-Id: pipelined-{n}\r\n\r\n",
            target.authority()
        ));
    }
    let mut stream = connect(target).await;
    stream
        .write_all(requests.as_bytes())
        .await
        .expect("writing the pipelined requests");
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut received = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    while split_responses(&received).len() < REQUESTS {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(read)) if read > 0 => received.extend_from_slice(&buffer[..read]),
            _ => break,
        }
    }
    let replies = split_responses(&received);
    let what = format!("[{}] {REQUESTS} pipelined requests", target.name);
    assert_eq!(replies.len(), REQUESTS, "{what}: every one answered");
    for (n, reply) in replies.iter().enumerate() {
        let expected = if n % 2 == 0 { 200 } else { 404 };
        assert_eq!(
            reply.status,
            Some(expected),
            "{what}: answer {n}: {:?}",
            reply.head
        );
        assert_eq!(
            reply.header("x-request-id").as_deref(),
            Some(format!("pipelined-{n}").as_str()),
            "{what}: answer {n} is for request {n}"
        );
    }
}
