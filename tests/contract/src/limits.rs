//! Limits of the request head: 16 KiB and 64 header fields (431), 5 s to send it (408).
//! Sent on raw TCP, because a client library refuses to send such heads.

use std::time::Duration;

use crate::Target;
use crate::http::{assert_raw_error, raw, read_raw, truncate};

const WAIT: Duration = Duration::from_secs(10);

fn request(target: &Target, extra: &str) -> Vec<u8> {
    format!(
        "GET /health/live HTTP/1.1\r\nHost: {}\r\n{extra}Connection: close\r\n\r\n",
        target.authority()
    )
    .into_bytes()
}

pub async fn limits_head_over_16k_is_431(target: &Target) {
    let extra = format!("X-Big: {}\r\n", "a".repeat(17 * 1024));
    let reply = raw(target, &request(target, &extra), WAIT).await;
    assert_raw_error(
        &format!("[{}] GET /health/live with a 17 KiB header", target.name),
        &reply,
        431,
        "Request header fields too large",
    );
    // Many small headers adding up to over 16 KiB (fewer than 64 fields).
    let extra: String = (0..40)
        .map(|n| format!("X-F{n}: {}\r\n", "b".repeat(500)))
        .collect();
    let reply = raw(target, &request(target, &extra), WAIT).await;
    assert_raw_error(
        &format!(
            "[{}] GET /health/live with 40 headers of 500 bytes",
            target.name
        ),
        &reply,
        431,
        "Request header fields too large",
    );
}

pub async fn limits_more_than_64_headers_is_431(target: &Target) {
    // Host + Connection + 63 = 65 fields.
    let extra: String = (0..63).map(|n| format!("X-H{n}: v\r\n")).collect();
    let reply = raw(target, &request(target, &extra), WAIT).await;
    assert_raw_error(
        &format!("[{}] GET /health/live with 65 header fields", target.name),
        &reply,
        431,
        "Request header fields too large",
    );
}

pub async fn limits_head_within_limits_is_served(target: &Target) {
    // Host + Connection + 62 = 64 fields: allowed.
    let extra: String = (0..62).map(|n| format!("X-H{n}: v\r\n")).collect();
    let reply = raw(target, &request(target, &extra), WAIT).await;
    assert_eq!(
        reply.status,
        Some(200),
        "[{}] GET /health/live with exactly 64 header fields is served; head {:?}",
        target.name,
        truncate(&reply.head, 300)
    );
    // A 15 KiB head: allowed.
    let extra = format!("X-Big: {}\r\n", "a".repeat(15 * 1024));
    let reply = raw(target, &request(target, &extra), WAIT).await;
    assert_eq!(
        reply.status,
        Some(200),
        "[{}] GET /health/live with a 15 KiB head is served; head {:?}",
        target.name,
        truncate(&reply.head, 300)
    );
}

pub async fn limits_slow_head_is_408(target: &Target) {
    let mut stream = tokio::net::TcpStream::connect(target.authority())
        .await
        .expect("connecting");
    use tokio::io::AsyncWriteExt;
    let started = std::time::Instant::now();
    stream
        .write_all(
            format!(
                "GET /health/live HTTP/1.1\r\nHost: {}\r\nX-Slow: ",
                target.authority()
            )
            .as_bytes(),
        )
        .await
        .expect("writing a partial head");
    let reply = read_raw(&mut stream, WAIT).await;
    let elapsed = started.elapsed();
    let what = format!("[{}] a head that never completes", target.name);
    assert_eq!(
        reply.status,
        Some(408),
        "{what}: expected 408 within {WAIT:?}; got head {:?} after {elapsed:?}",
        reply.head
    );
    assert!(
        elapsed >= Duration::from_millis(4500),
        "{what}: the head timeout is 5 s, answered after {elapsed:?}"
    );
    // The server writes this 408 before a request exists (actix-web answers a bare
    // 408 with no body); when a body is sent it must be the contract's error body.
    if !reply.body.is_empty() {
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some(crate::http::JSON_TYPE),
            "{what}: content type of the 408 body; head {:?} body {:?}",
            reply.head,
            String::from_utf8_lossy(&reply.body)
        );
        let body: serde_json::Value = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|error| panic!("{what}: 408 body is not JSON ({error})"));
        assert!(body["error"].is_string(), "{what}: error body {body}");
        assert_eq!(
            body["request_id"].as_str().map(str::to_string),
            reply.header("x-request-id"),
            "{what}: request_id equals x-request-id"
        );
    }
    // And the connection is closed.
    let after = read_raw(&mut stream, Duration::from_secs(3)).await;
    assert!(
        reply.closed || after.closed,
        "{what}: the connection must be closed after the 408"
    );
}

pub async fn limits_silent_connection_is_closed(target: &Target) {
    let mut stream = tokio::net::TcpStream::connect(target.authority())
        .await
        .expect("connecting");
    let reply = read_raw(&mut stream, WAIT).await;
    // A complete 408 ends the first read; the close may follow it.
    let closed = reply.closed || read_raw(&mut stream, Duration::from_secs(3)).await.closed;
    assert!(
        closed,
        "[{}] a connection that sends nothing is closed within {WAIT:?} (a 408 first is fine)",
        target.name
    );
    if let Some(status) = reply.status {
        assert_eq!(
            status, 408,
            "[{}] silent connection: head {:?}",
            target.name, reply.head
        );
    }
}
