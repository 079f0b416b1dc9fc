//! `idle_connections`: keep-alive connections held open to a target, idle, beside the load of
//! a scenario's measured run: what a server spends (memory above all) on clients that are
//! connected but quiet. Each connection sends one `GET` of the target's `ready` path and reads
//! the answer's head, so that the server has served it and holds it in keep-alive; they close
//! when the value is dropped, after the run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::live::LiveTarget;

/// Connections opened before their answers are read: few enough for any accept backlog.
const BATCH: usize = 100;
/// How long connecting, and the answer to the one request, may take.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// A longer response head is not an HTTP server's answer to a health check.
const HEAD_LIMIT: usize = 64 * 1024;

/// Connections held open until dropped.
pub struct IdleConnections {
    _streams: Vec<TcpStream>,
}

/// Opens `count` idle keep-alive connections to `live` (none when `count` is 0).
pub fn open(live: &LiveTarget, count: usize) -> Result<IdleConnections> {
    let mut streams = Vec::with_capacity(count);
    if count == 0 {
        return Ok(IdleConnections { _streams: streams });
    }
    let Some(authority) = live.base_url.strip_prefix("http://") else {
        bail!(
            "idle_connections speak plaintext HTTP/1.1, and {} is at {}",
            live.name,
            live.base_url
        );
    };
    let authority = authority.split('/').next().unwrap_or(authority);
    let address: SocketAddr = authority
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .with_context(|| format!("{authority} resolves to no address"))?;
    let path = live
        .running
        .as_ref()
        .map_or("/", |running| running.ready_path());
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    while streams.len() < count {
        let batch = BATCH.min(count - streams.len());
        let mut opened = Vec::with_capacity(batch);
        for _ in 0..batch {
            let mut stream =
                TcpStream::connect_timeout(&address, ANSWER_TIMEOUT).with_context(|| {
                    format!(
                        "opening idle connection {} of {count} to {address} (is `ulimit -n` \
                         above {count}?)",
                        streams.len() + opened.len() + 1
                    )
                })?;
            stream
                .write_all(request.as_bytes())
                .context("sending an idle connection's request")?;
            opened.push(stream);
        }
        for stream in &mut opened {
            read_head(stream, path)?;
        }
        streams.extend(opened);
    }
    Ok(IdleConnections { _streams: streams })
}

/// Reads the answer's head: an HTTP/1.1 response that keeps the connection open.
fn read_head(stream: &mut TcpStream, path: &str) -> Result<()> {
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    let mut head = Vec::new();
    let mut buffer = [0u8; 4096];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let read = stream.read(&mut buffer).with_context(|| {
            format!("waiting for the answer to an idle connection's GET {path}")
        })?;
        if read == 0 || head.len() > HEAD_LIMIT {
            bail!("an idle connection's GET {path} got no complete HTTP answer");
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    if !text.starts_with("http/1.1 ") {
        bail!("an idle connection's GET {path} was not answered in HTTP/1.1");
    }
    if text.lines().any(|line| {
        line.split_once(':')
            .is_some_and(|(name, value)| name.trim() == "connection" && value.contains("close"))
    }) {
        bail!("the target closes the connection after GET {path}: it keeps no connection idle");
    }
    Ok(())
}
