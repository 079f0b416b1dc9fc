//! Waiting for a starting server: poll a probe until it says yes, the child exits, or time
//! runs out; and the probe most servers of ours need, the status of one HTTP GET.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

/// How a wait for readiness ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// The probe said yes; the time from `started` to then.
    Ready(Duration),
    /// The child exited before it was ready.
    Exited(ExitStatus),
    /// Neither within the timeout.
    TimedOut,
}

/// Polls `probe` every `interval` until it returns true, `child` (when given) exits, or
/// `timeout` has passed since `started`. The exit is checked before each probe, so a
/// server that dies at start is reported as such and not as a timeout. Blocking: call it
/// from a plain thread or `spawn_blocking`.
pub fn wait_ready(
    mut child: Option<&mut Child>,
    started: Instant,
    timeout: Duration,
    interval: Duration,
    mut probe: impl FnMut() -> bool,
) -> io::Result<Readiness> {
    loop {
        if let Some(child) = child.as_deref_mut()
            && let Some(status) = child.try_wait()?
        {
            return Ok(Readiness::Exited(status));
        }
        if probe() {
            return Ok(Readiness::Ready(started.elapsed()));
        }
        if started.elapsed() > timeout {
            return Ok(Readiness::TimedOut);
        }
        std::thread::sleep(interval);
    }
}

/// The status of `GET path` on `address` (HTTP/1.1, `Connection: close`), or `None` when
/// nothing answers (yet). Hand-written rather than an HTTP client: it runs every few
/// milliseconds while a cold start is timed, and needs only the status line.
pub fn http_status(address: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(200)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    // "HTTP/1.1 200": the status is bytes 9..12 of the status line.
    let mut head = [0u8; 12];
    let mut read = 0;
    while read < head.len() {
        match stream.read(&mut head[read..]) {
            Ok(0) | Err(_) => return None,
            Ok(count) => read += count,
        }
    }
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::process::Command;

    const SECOND: Duration = Duration::from_secs(1);
    const TICK: Duration = Duration::from_millis(10);

    #[test]
    fn a_child_that_exits_is_reported_with_its_status() {
        let mut child = Command::new("sh")
            .args(["-c", "exit 3"])
            .spawn()
            .expect("sh starts");
        let outcome = wait_ready(Some(&mut child), Instant::now(), 30 * SECOND, TICK, || {
            false
        })
        .expect("waiting on a child");
        let Readiness::Exited(status) = outcome else {
            panic!("expected an exit, got {outcome:?}");
        };
        assert_eq!(status.code(), Some(3));
    }

    #[test]
    fn a_probe_that_never_agrees_times_out() {
        let outcome = wait_ready(
            None,
            Instant::now(),
            Duration::from_millis(50),
            TICK,
            || false,
        )
        .expect("no child to wait on");
        assert_eq!(outcome, Readiness::TimedOut);
    }

    #[test]
    fn the_wait_ends_when_the_probe_agrees() {
        let mut polls = 0;
        let outcome = wait_ready(None, Instant::now(), 30 * SECOND, TICK, || {
            polls += 1;
            polls == 3
        })
        .expect("no child to wait on");
        assert!(matches!(outcome, Readiness::Ready(_)), "{outcome:?}");
        assert_eq!(polls, 3);
    }

    #[test]
    fn http_status_reads_the_status_line() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding a loopback port");
        let address = listener
            .local_addr()
            .expect("a bound listener has an address");
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("the probe connects");
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request);
            stream
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
                .expect("answering the probe");
        });
        assert_eq!(http_status(address, "/health/ready"), Some(503));
        server.join().expect("the test server thread");
        // Now nothing listens there.
        assert_eq!(http_status(address, "/health/ready"), None);
    }
}
