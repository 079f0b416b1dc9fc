//! The raw HTTP/1.1 clients of the overload tests, and what they saw: keep-alive readers of
//! `GET /users/{id}` and senders of big `/api/v1/process` batches, each counting its
//! answers in a [`Tally`], plus the RSS watcher. Raw sockets, not reqwest: a reset or a
//! 503 sent before the body was read must be seen as it happened.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// One response's status line and headers, its body read and dropped.
pub struct Answer {
    pub status: u16,
    pub retry_after: bool,
    pub close: bool,
}

/// Reads one response framed by `Content-Length`; `None` on EOF, reset or bad framing.
pub async fn read_answer(
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
pub struct Tally {
    ok: AtomicU64,
    shed: AtomicU64,
    /// Anything else: another status, a 503 without `Retry-After`, a reset, a timeout.
    wrong: AtomicU64,
    first_wrong: std::sync::Mutex<Option<String>>,
}

impl Tally {
    pub fn count(&self, answer: &Answer) {
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

    pub fn fail(&self, what: String) {
        self.wrong.fetch_add(1, Ordering::Relaxed);
        let mut first = self
            .first_wrong
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        first.get_or_insert(what);
    }

    pub fn assert_clean(&self, what: &str) {
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

/// Samples the RSS of `pid` every `every` until `stop`; returns the peak seen and every
/// sample in MiB (the trace a report quotes).
pub fn watch_rss(pid: u32, every: Duration, stop: Arc<AtomicBool>) -> JoinHandle<(u64, Vec<u64>)> {
    tokio::spawn(async move {
        let (mut peak, mut trace) = (0, Vec::new());
        while !stop.load(Ordering::Relaxed) {
            let rss = crate::running::rss_of(pid).unwrap_or(0);
            peak = peak.max(rss);
            trace.push(rss >> 20);
            tokio::time::sleep(every).await;
        }
        (peak, trace)
    })
}

/// The process's peak resident memory since it started (`VmHWM`), in bytes.
pub fn high_water_mark(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// `connections` keep-alive clients reading `GET /users/{id}` over `ids` until `until`;
/// a client whose answer says `Connection: close` connects again.
pub fn read_users(
    port: u16,
    ids: Arc<Vec<String>>,
    bearer: &str,
    connections: usize,
    until: Instant,
    tally: &Arc<Tally>,
) -> Vec<JoinHandle<()>> {
    (0..connections)
        .map(|n| {
            let (ids, tally, bearer) = (ids.clone(), tally.clone(), bearer.to_owned());
            tokio::spawn(async move {
                let mut sent = n;
                while Instant::now() < until {
                    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
                        return tally.fail("connect failed".into());
                    };
                    let mut buffer = Vec::new();
                    while Instant::now() < until {
                        sent += 1;
                        let request = format!(
                            "GET /users/{} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {bearer}\r\n\r\n",
                            ids[sent % ids.len()]
                        );
                        if stream.write_all(request.as_bytes()).await.is_err() {
                            return tally.fail("write failed on an open connection".into());
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
        .collect()
}

/// `connections` clients each posting `body` to `/api/v1/process` until `until`, one
/// request per connection, the body sent while the answer is read (a 503 may come first).
pub fn send_batches(
    port: u16,
    body: Arc<Vec<u8>>,
    connections: usize,
    until: Instant,
    tally: &Arc<Tally>,
) -> Vec<JoinHandle<()>> {
    (0..connections)
        .map(|_| {
            let (body, tally) = (body.clone(), tally.clone());
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
        .collect()
}
