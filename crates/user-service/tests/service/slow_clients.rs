//! Slow clients and overload on `/api/v1/process`, against the app built in-process:
//! stalled bodies hold no processing slot, bodies in flight share a byte budget (503 with
//! `Retry-After` past it, and the client reads that answer), and connections over the
//! cap wait in the listen backlog instead of being accepted and reset.
//! The 10,000-idle-connection and the heavy overload runs are in `scripts/ci/overload.sh`.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use contract_suite::http::read_raw;

const MIB: usize = 1024 * 1024;

fn authority(base: &str) -> &str {
    base.trim_start_matches("http://")
}

async fn process_head(base: &str, length: usize) -> TcpStream {
    let mut stream = TcpStream::connect(authority(base))
        .await
        .expect("connecting");
    let head = format!(
        "POST /api/v1/process HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n"
    );
    stream
        .write_all(head.as_bytes())
        .await
        .expect("writing a head");
    stream
}

async fn small_batch(client: &reqwest::Client, base: &str) -> reqwest::Response {
    client
        .post(format!("{base}/api/v1/process"))
        .header("content-type", "application/json")
        .body(r#"{"records":[1]}"#)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the service answers a small batch within 10 s")
}

/// 17 × cores connections announce 8 MiB bodies and send nothing: a small batch sent
/// meanwhile is served (their bodies are not read yet, so they hold no slot).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_8_mib_bodies_take_no_processing_slot() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = crate::support::spawn_app(&database_url, |_| {}).await;
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    let mut stalled = Vec::new();
    for _ in 0..17 * cores {
        stalled.push(process_head(&base, 8 * MIB).await);
    }
    // Let every head be parsed and routed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let client = reqwest::Client::new();
    let response = small_batch(&client, &base).await;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(
        status,
        200,
        "a small batch while {} connections stall on 8 MiB bodies: {body}",
        stalled.len()
    );
}

/// Sends a `length`-byte `/process` body from one handle of a socket while reading the
/// answer from another, so that an answer given before the body is sent is seen.
async fn send_body(
    base: &str,
    length: usize,
) -> (
    contract_suite::http::RawReply,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let stream = process_head(base, length).await;
    let mut body = br#"{"records":[1],"pad":""#.to_vec();
    body.resize(length - 2, b'x');
    body.extend_from_slice(b"\"}");
    let std_stream = stream.into_std().expect("a tokio stream is a std stream");
    let mut writer = TcpStream::from_std(std_stream.try_clone().expect("duplicating the socket"))
        .expect("the duplicate is non-blocking too");
    let mut reader = TcpStream::from_std(std_stream).expect("back to tokio");
    let sending = tokio::spawn(async move { writer.write_all(&body).await });
    (
        read_raw(&mut reader, Duration::from_secs(10)).await,
        sending,
    )
}

/// Bodies in flight share the budget: past it, a new body gets 503 with `Retry-After` at
/// once, and the client reads that answer (a lingering close, not a reset) although it
/// is still sending its body. Once the holder leaves, bodies are served again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_past_the_budget_get_503_with_retry_after_and_no_reset() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = crate::support::spawn_app(&database_url, |settings| {
        settings.server.body_budget_bytes = 3 * MIB;
    })
    .await;
    // The holder sends 1.5 MiB of a 4 MiB body and stops. Its buffer doubles as it
    // arrives, so it reserves at least 1.5 and less than 3 MiB (never refused itself,
    // whatever the chunk sizes); a 1.75 MiB body reserves no more than its length, so it
    // fits alone but not beside the holder. The holder's bytes count once the server has
    // read them, which a loaded machine may delay (and a second body read first would
    // take the holder's place): the pair is tried again until the second is refused,
    // bounded, so a budget that never refuses still fails the test.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (reply, sending, holder) = loop {
        let mut holder = process_head(&base, 4 * MIB).await;
        holder
            .write_all(&vec![b' '; 3 * MIB / 2])
            .await
            .expect("writing part of a body");
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (reply, sending) = send_body(&base, 7 * MIB / 4).await;
        if reply.status != Some(200) || std::time::Instant::now() > deadline {
            break (reply, sending, holder);
        }
        let _ = sending.await;
        drop(holder);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        reply.status,
        Some(503),
        "a body past the budget; head {:?}",
        reply.head
    );
    assert_eq!(
        reply.header("retry-after").as_deref(),
        Some("1"),
        "{:?}",
        reply.head
    );
    // The server may stop reading once it has answered: a failed write is fine.
    let _ = sending.await;
    let body: serde_json::Value =
        serde_json::from_slice(&reply.body).expect("the 503 has the contract's error body");
    assert_eq!(body["error"], "Overloaded");

    drop(holder);
    let client = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let status = small_batch(&client, &base).await.status();
        if status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the budget is given back when its holder leaves; still {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Past the connection cap, a connection waits in the listen backlog: it is not
/// answered while the cap is taken, and it is answered (not reset) when a place frees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_in_the_backlog() {
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let base = crate::support::spawn_app(&database_url, |settings| {
        settings.server.max_connections = 2;
        settings.server.keep_alive_secs = 60;
    })
    .await;
    let request = b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(authority(&base))
            .await
            .expect("connecting");
        stream.write_all(request).await.expect("writing a request");
        let reply = read_raw(&mut stream, Duration::from_secs(10)).await;
        assert_eq!(reply.status, Some(200), "a connection within the cap");
        held.push(stream);
    }
    let mut waiting = TcpStream::connect(authority(&base))
        .await
        .expect("the kernel completes the handshake into the backlog");
    waiting.write_all(request).await.expect("writing a request");
    let early = read_raw(&mut waiting, Duration::from_millis(700)).await;
    assert_eq!(
        early.status, None,
        "answered past the cap: {:?}",
        early.head
    );
    assert!(
        !early.closed,
        "a connection past the cap is not accepted and reset"
    );
    drop(held.pop());
    let reply = read_raw(&mut waiting, Duration::from_secs(10)).await;
    assert_eq!(
        reply.status,
        Some(200),
        "answered once a place is free: {:?}",
        reply.head
    );
}
