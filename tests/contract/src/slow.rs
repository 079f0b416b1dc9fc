//! Slow clients: every request's head and body have a deadline, not only a
//! connection's first head. Sent on raw TCP, since a client library sends whole requests.

use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::Target;
use crate::http::read_raw;

/// Longer than any deadline of the contract (5 s for a head, 5 s for a stalled body).
const WAIT: Duration = Duration::from_secs(15);

async fn connect(target: &Target) -> TcpStream {
    TcpStream::connect(target.authority())
        .await
        .unwrap_or_else(|error| panic!("[{}] connecting: {error}", target.name))
}

/// A keep-alive connection that answered one request, then sends part of a second head
/// and nothing more: 408 (or a plain close) within the head timeout, never a hang.
pub async fn slow_second_head_is_408(target: &Target) {
    let mut stream = connect(target).await;
    let first = format!(
        "GET /health/live HTTP/1.1\r\nHost: {}\r\n\r\n",
        target.authority()
    );
    stream
        .write_all(first.as_bytes())
        .await
        .expect("writing the first request");
    let reply = read_raw(&mut stream, WAIT).await;
    assert_eq!(
        reply.status,
        Some(200),
        "[{}] the first request on the connection; head {:?}",
        target.name,
        reply.head
    );
    assert!(
        !reply.closed,
        "[{}] the first answer keeps the connection",
        target.name
    );
    let started = Instant::now();
    stream
        .write_all(b"G")
        .await
        .expect("writing one byte of a second head");
    let reply = read_raw(&mut stream, WAIT).await;
    let closed = reply.closed || read_raw(&mut stream, Duration::from_secs(3)).await.closed;
    let what = format!("[{}] one byte of a second head, then nothing", target.name);
    assert!(
        closed,
        "{what}: the connection must be closed within {WAIT:?}; got {:?} after {:?}",
        reply.head,
        started.elapsed()
    );
    if let Some(status) = reply.status {
        assert_eq!(status, 408, "{what}: head {:?}", reply.head);
    }
}

/// A body announced by `Content-Length` that stops arriving: 408 and a close, never a
/// connection held forever.
pub async fn slow_stalled_body_is_408(target: &Target) {
    let mut stream = connect(target).await;
    let head = format!(
        "POST /api/v1/process HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"records\":[",
        target.authority()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("writing a head and a part of a body");
    let started = Instant::now();
    let reply = read_raw(&mut stream, WAIT).await;
    let closed = reply.closed || read_raw(&mut stream, Duration::from_secs(3)).await.closed;
    let what = format!("[{}] a body that stops after 12 of 1000 bytes", target.name);
    assert_eq!(
        reply.status,
        Some(408),
        "{what}: expected 408 within {WAIT:?}; got {:?} after {:?}",
        reply.head,
        started.elapsed()
    );
    assert!(
        closed,
        "{what}: the connection must be closed after the 408"
    );
}
