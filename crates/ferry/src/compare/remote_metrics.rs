//! CPU and memory of a target on another machine, from its Prometheus process metrics
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, which the Prometheus
//! clients of Rust, Node, Go, Python and the JVM all export), read every second.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::sampler::Sample;

/// Between reads: the metrics are usually refreshed no faster than this.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The two process metrics at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessMetrics {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads the metrics until `stop`; CPU% is the CPU time between two reads over the wall time.
pub fn sample_until(url: &str, stop: &AtomicBool) -> Vec<Sample> {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut last = fetch(url).ok().map(|metrics| (metrics, Instant::now()));
    let mut tick = 0u32;
    while !stop.load(Ordering::Relaxed) {
        tick += 1;
        let next = start + INTERVAL * tick;
        // Sleep in short slices so that finishing does not wait a whole interval.
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(20).min(next - Instant::now()));
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let Ok(metrics) = fetch(url) else { continue };
        let now = Instant::now();
        let cpu_percent = match last {
            Some((previous, at)) => {
                (metrics.cpu_seconds - previous.cpu_seconds).max(0.0)
                    / now.duration_since(at).as_secs_f64().max(1e-3)
                    * 100.0
            }
            None => 0.0,
        };
        last = Some((metrics, now));
        samples.push(Sample {
            t_s: start.elapsed().as_secs_f64(),
            cpu_percent,
            rss_bytes: metrics.rss_bytes,
        });
    }
    samples
}

/// One `GET` of the metrics page (`http://host:port/path`).
pub fn fetch(url: &str) -> Result<ProcessMetrics> {
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("metrics URL {url} is not http://"))?;
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let address = authority
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
        .with_context(|| format!("connecting to {authority}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    write!(
        stream,
        "GET /{path} HTTP/1.0\r\nHost: {authority}\r\nAccept: text/plain\r\n\r\n"
    )?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .with_context(|| format!("reading {url}"))?;
    parse(&response).with_context(|| {
        format!("{url} has no process_cpu_seconds_total and process_resident_memory_bytes")
    })
}

/// The two metrics from a Prometheus text exposition (a response's head is skipped over).
pub fn parse(text: &str) -> Result<ProcessMetrics> {
    let value = |name: &str| -> Option<f64> {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let rest = line.strip_prefix(name)?;
                // `name value` or `name{labels} value`, optionally followed by a timestamp.
                let rest = match rest.strip_prefix('{') {
                    Some(labelled) => labelled.split_once('}')?.1,
                    None => rest,
                };
                rest.split_whitespace().next()?.parse().ok()
            })
    };
    match (
        value("process_cpu_seconds_total"),
        value("process_resident_memory_bytes"),
    ) {
        (Some(cpu_seconds), Some(rss)) => Ok(ProcessMetrics {
            cpu_seconds,
            rss_bytes: rss as u64,
        }),
        _ => bail!("the process metrics are missing"),
    }
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn process_metrics_are_read_from_the_exposition() {
        let text = "HTTP/1.1 200 OK\r\n\r\n# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes{service=\"a\"} 1.048576e6\n";
        let metrics = parse(text).unwrap();
        assert_eq!(metrics.cpu_seconds, 12.5);
        assert_eq!(metrics.rss_bytes, 1_048_576);
        assert!(parse("process_cpu_seconds_total 1\n").is_err());
    }
}
