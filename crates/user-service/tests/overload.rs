//! Overload and slow clients against the real binary in its own process (the client
//! and server sockets of 10,000 connections would pass this machine's descriptor limit
//! in one process). Heavy, so `#[ignore]`d: `scripts/ci/overload.sh` runs them.
//!
//! They assert answers, never speed: every answer is 200 or 503 with `Retry-After`, a
//! client with a 10 s timeout always gets one, no accepted connection is reset, the
//! service's RSS stays under 256 MiB, and within a second of the load ending readiness
//! and requests answer 200. Each prints what it saw (counts, peak RSS) for the README.

mod running;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use running::{JWT_SECRET, RunningService, create_user, token};

const RSS_LIMIT: u64 = 256 * 1024 * 1024;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);
const LOAD_FOR: Duration = Duration::from_secs(10);

async fn start_service() -> (RunningService, tempfile::TempDir) {
    // Our side of thousands of connections needs more than the default 1,024.
    kit::http::connection_cap::raise_descriptor_limit().expect("raising RLIMIT_NOFILE");
    let directory = tempfile::tempdir().expect("a temporary directory");
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let env = [
        ("DATABASE_URL", database_url),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("APP_LOG__FILTER", "warn".to_owned()),
    ];
    let service = RunningService::start(directory.path(), &env).await;
    (service, directory)
}

/// One response's status line and headers, its body read and dropped.
struct Answer {
    status: u16,
    retry_after: bool,
    close: bool,
}

/// Reads one response framed by `Content-Length`; `None` on EOF, reset or bad framing.
async fn read_answer(
    reader: &mut (impl AsyncRead + Unpin),
    buffer: &mut Vec<u8>,
) -> Option<Answer> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..at]).to_ascii_lowercase();
            let status = head.split_whitespace().nth(1)?.parse().ok()?;
            let header = |name: &str| {
                head.lines()
                    .skip(1)
                    .find_map(|line| line.strip_prefix(name).map(|value| value.trim().to_owned()))
            };
            let length: usize = header("content-length:")?.parse().ok()?;
            while buffer.len() < at + 4 + length {
                let read = reader.read(&mut chunk).await.ok()?;
                if read == 0 {
                    return None;
                }
                buffer.extend_from_slice(&chunk[..read]);
            }
            let answer = Answer {
                status,
                retry_after: header("retry-after:").is_some(),
                close: header("connection:").is_some_and(|value| value == "close"),
            };
            buffer.drain(..at + 4 + length);
            return Some(answer);
        }
        let read = reader.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
}

/// What the clients of one run saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    shed: AtomicU64,
    /// Anything else: another status, a 503 without `Retry-After`, a reset, a timeout.
    wrong: AtomicU64,
    first_wrong: std::sync::Mutex<Option<String>>,
}

impl Tally {
    fn count(&self, answer: &Answer) {
        match (answer.status, answer.retry_after) {
            (200, _) => self.ok.fetch_add(1, Ordering::Relaxed),
            (503, true) => self.shed.fetch_add(1, Ordering::Relaxed),
            (status, _) => {
                self.fail(format!(
                    "status {status} (Retry-After: {})",
                    answer.retry_after
                ));
                0
            }
        };
    }

    fn fail(&self, what: String) {
        self.wrong.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_wrong
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        first.get_or_insert(what);
    }

    fn assert_clean(&self, what: &str) {
        let (ok, shed, wrong) = (
            self.ok.load(Ordering::Relaxed),
            self.shed.load(Ordering::Relaxed),
            self.wrong.load(Ordering::Relaxed),
        );
        println!("{what}: {ok} × 200, {shed} × 503 with Retry-After, {wrong} other");
        assert_eq!(
            wrong,
            0,
            "{what}: every answer is 200 or 503 with Retry-After, within {CLIENT_TIMEOUT:?}, no reset; first other: {:?}",
            self.first_wrong
                .lock()
                .map(|first| first.clone())
                .unwrap_or_default()
        );
        assert!(ok > 0, "{what}: some requests were served");
    }
}

/// Samples the service's RSS every 100 ms until `stop`; returns the peak.
fn watch_rss(service: &RunningService, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    let pid = service.pid();
    tokio::spawn(async move {
        let mut peak = 0;
        while !stop.load(Ordering::Relaxed) {
            peak = peak.max(running::rss_of(pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        peak
    })
}

/// Waits for the clients, stops the RSS watcher, and checks the answers and the peak.
async fn finish_load(
    what: &str,
    clients: Vec<tokio::task::JoinHandle<()>>,
    stop: &AtomicBool,
    rss: tokio::task::JoinHandle<u64>,
    tally: &Tally,
) {
    for client in clients {
        client.await.expect("a client task");
    }
    stop.store(true, Ordering::Relaxed);
    let peak = rss.await.expect("the RSS watcher");
    println!("{what}: peak RSS {} MiB", peak >> 20);
    tally.assert_clean(what);
    assert!(peak < RSS_LIMIT, "{what}: peak RSS {} MiB", peak >> 20);
}

/// Within a second of the load ending, readiness and `path` answer 200.
async fn assert_recovers(service: &RunningService, path: &str, bearer: Option<&str>) {
    let client = reqwest::Client::new();
    let ended = Instant::now();
    loop {
        let ready = client
            .get(service.url("/health/ready"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .map(|response| response.status().as_u16());
        let mut request = client
            .get(service.url(path))
            .timeout(Duration::from_secs(1));
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let get = request
            .send()
            .await
            .map(|response| response.status().as_u16());
        if matches!((&ready, &get), (Ok(200), Ok(200))) {
            println!("recovered {:?} after the load ended", ended.elapsed());
            return;
        }
        assert!(
            ended.elapsed() < Duration::from_secs(1),
            "readiness and GET {path} answer 200 within 1 s of the load ending; got {ready:?}, {get:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn create_users(service: &RunningService, count: usize) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(create_user(&client, service).await);
    }
    ids
}

/// 2,000 keep-alive connections read users for 10 s, far past capacity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: scripts/ci/overload.sh"]
async fn two_thousand_connections_reading_users() {
    let (service, _directory) = start_service().await;
    let ids = Arc::new(create_users(&service, 50).await);
    let bearer = token("users:read");
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let rss = watch_rss(&service, stop.clone());
    let until = Instant::now() + LOAD_FOR;
    let clients: Vec<_> = (0..2000)
        .map(|n| {
            let (ids, tally, bearer, port) = (ids.clone(), tally.clone(), bearer.clone(), service.port);
            tokio::spawn(async move {
                let mut sent = n;
                while Instant::now() < until {
                    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
                        tally.fail("connect failed".into());
                        return;
                    };
                    let mut buffer = Vec::new();
                    while Instant::now() < until {
                        sent += 1;
                        let request = format!(
                            "GET /users/{} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {bearer}\r\n\r\n",
                            ids[sent % ids.len()]
                        );
                        if stream.write_all(request.as_bytes()).await.is_err() {
                            tally.fail("write failed on an open connection".into());
                            return;
                        }
                        match tokio::time::timeout(CLIENT_TIMEOUT, read_answer(&mut stream, &mut buffer)).await {
                            Ok(Some(answer)) => {
                                tally.count(&answer);
                                if answer.close {
                                    break;
                                }
                            }
                            Ok(None) => return tally.fail("connection closed or reset without an answer".into()),
                            Err(_) => return tally.fail(format!("no answer within {CLIENT_TIMEOUT:?}")),
                        }
                    }
                }
            })
        })
        .collect();
    finish_load(
        "2,000 connections on GET /users/{id}",
        clients,
        &stop,
        rss,
        &tally,
    )
    .await;
    assert_recovers(&service, &format!("/users/{}", ids[0]), Some(&bearer)).await;
}

/// 10,000-record batches (about 1.5 MB each).
fn big_batch() -> Vec<u8> {
    let records: Vec<String> = (0..10_000)
        .map(|n| {
            contract_suite::process::record(&(n * 7 % 100_000).to_string(), "EUR", r#"["a","b"]"#)
        })
        .collect();
    contract_suite::process::batch(&records).into_bytes()
}

/// 300 connections send 10,000-record batches for 10 s: the body budget and the pool
/// shed, and memory stays bounded by the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: scripts/ci/overload.sh"]
async fn three_hundred_connections_sending_big_batches() {
    let (service, _directory) = start_service().await;
    let body = Arc::new(big_batch());
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let rss = watch_rss(&service, stop.clone());
    let until = Instant::now() + LOAD_FOR;
    let clients: Vec<_> = (0..300)
        .map(|_| {
            let (body, tally, port) = (body.clone(), tally.clone(), service.port);
            tokio::spawn(async move {
                while Instant::now() < until {
                    let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
                        return tally.fail("connect failed".into());
                    };
                    let (mut reader, mut writer) = stream.into_split();
                    let head = format!(
                        "POST /api/v1/process HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    // The body is sent while the answer is read: a 503 may come first.
                    let body = body.clone();
                    let sending = tokio::spawn(async move {
                        writer.write_all(head.as_bytes()).await?;
                        writer.write_all(&body).await?;
                        Ok::<_, std::io::Error>(writer)
                    });
                    let mut buffer = Vec::new();
                    match tokio::time::timeout(CLIENT_TIMEOUT, read_answer(&mut reader, &mut buffer)).await {
                        Ok(Some(answer)) => tally.count(&answer),
                        Ok(None) => return tally.fail("connection closed or reset without an answer".into()),
                        Err(_) => return tally.fail(format!("no answer within {CLIENT_TIMEOUT:?}")),
                    }
                    sending.abort();
                }
            })
        })
        .collect();
    finish_load(
        "300 connections sending 10,000-record batches",
        clients,
        &stop,
        rss,
        &tally,
    )
    .await;
    assert_recovers(&service, "/health/live", None).await;
    let small = reqwest::Client::new()
        .post(service.url("/api/v1/process"))
        .header("content-type", "application/json")
        .body(r#"{"records":[1]}"#)
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect("a small batch after the load");
    assert_eq!(small.status(), 200, "a small batch after the load");
}

/// 10,000 connections that send nothing, and 2,000 keep-alive connections that send one
/// byte of a second head: other clients are served meanwhile, and all of them are closed
/// by the head deadlines (so descriptors come back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "heavy: scripts/ci/overload.sh"]
async fn ten_thousand_idle_and_two_thousand_stalled_heads_block_nobody() {
    let (service, _directory) = start_service().await;
    let started = Instant::now();
    let mut idle = Vec::with_capacity(10_000);
    for _ in 0..10_000 {
        idle.push(
            TcpStream::connect(("127.0.0.1", service.port))
                .await
                .expect("connecting an idle connection"),
        );
    }
    println!("10,000 idle connections opened in {:?}", started.elapsed());
    let mut stalled = Vec::with_capacity(2_000);
    for _ in 0..2_000 {
        let mut stream = TcpStream::connect(("127.0.0.1", service.port))
            .await
            .expect("connecting");
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\nHost: test\r\n\r\n")
            .await
            .expect("writing a first request");
        let mut buffer = Vec::new();
        let answer = tokio::time::timeout(CLIENT_TIMEOUT, read_answer(&mut stream, &mut buffer))
            .await
            .expect("a first request is answered while 10,000 connections idle")
            .expect("an answer");
        assert_eq!(answer.status, 200);
        stream
            .write_all(b"G")
            .await
            .expect("one byte of a second head");
        stalled.push(stream);
    }
    let rss = service.rss_bytes().unwrap_or(0);
    println!(
        "12,000 connections held ({:?} since the first): RSS {} MiB",
        started.elapsed(),
        rss >> 20
    );
    assert!(
        rss < RSS_LIMIT,
        "RSS {} MiB with 12,000 connections",
        rss >> 20
    );
    let client = reqwest::Client::new();
    let live = client
        .get(service.url("/health/live"))
        .timeout(CLIENT_TIMEOUT)
        .send()
        .await
        .expect("another client is served meanwhile");
    assert_eq!(live.status(), 200);
    // Every one of them is closed by a deadline (5 s; generous bound).
    let closed = Arc::new(AtomicUsize::new(0));
    let waits: Vec<_> = idle
        .into_iter()
        .chain(stalled)
        .map(|mut stream| {
            let closed = closed.clone();
            tokio::spawn(async move {
                let mut sink = [0u8; 512];
                let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
                loop {
                    match tokio::time::timeout_at(deadline, stream.read(&mut sink)).await {
                        Ok(Ok(0)) | Ok(Err(_)) => {
                            closed.fetch_add(1, Ordering::Relaxed);
                            return;
                        }
                        Ok(Ok(_)) => continue,
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    for wait in waits {
        wait.await.expect("a wait task");
    }
    println!(
        "{} of 12,000 closed by the server {:?} after the first was opened",
        closed.load(Ordering::Relaxed),
        started.elapsed()
    );
    assert_eq!(
        closed.load(Ordering::Relaxed),
        12_000,
        "every idle or stalled connection is closed by a deadline"
    );
}
