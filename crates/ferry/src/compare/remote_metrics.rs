//! CPU and memory of a target on another machine, from its Prometheus process metrics
//! (`process_cpu_seconds_total`, `process_resident_memory_bytes`, which the Prometheus
//! clients of Rust, Node, Go, Python and the JVM all export), read every second by the
//! [`super::sampler`]. `process_cpu_seconds_total` is a cumulative counter, so the CPU over
//! a window is its difference between the window's ends.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Between reads: the metrics are usually refreshed no faster than this.
pub const INTERVAL: Duration = Duration::from_secs(1);

/// The two process metrics at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessMetrics {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// The target's CPU seconds as one cumulative counter across reads: a counter that went
/// down (the process restarted) counts from zero again rather than backwards.
pub struct RemoteCounter {
    url: String,
    last: Option<f64>,
    total: f64,
}

impl RemoteCounter {
    pub fn new(url: String) -> RemoteCounter {
        RemoteCounter {
            url,
            last: None,
            total: 0.0,
        }
    }

    /// CPU seconds counted so far and the resident memory now; `None` when the metrics
    /// could not be read (the next read covers the gap: the counter is cumulative).
    pub fn read(&mut self) -> Option<(f64, u64)> {
        let metrics = fetch(&self.url).ok()?;
        Some((self.advance(metrics.cpu_seconds), metrics.rss_bytes))
    }

    /// Counts a new value of the counter; returns the total so far.
    fn advance(&mut self, value: f64) -> f64 {
        self.total += match self.last {
            Some(last) if value >= last => value - last,
            // Restarted: what it shows is all since the restart.
            Some(_) => value,
            None => 0.0,
        };
        self.last = Some(value);
        self.total
    }
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
    use super::{RemoteCounter, parse};

    #[test]
    fn a_counter_that_goes_down_counts_from_zero_again() {
        let mut counter = RemoteCounter::new("http://unused".into());
        let totals: Vec<f64> = [100.0, 101.5, 0.25, 1.0]
            .into_iter()
            .map(|value| counter.advance(value))
            .collect();
        assert_eq!(totals, [0.0, 1.5, 1.75, 2.5]);
    }

    #[test]
    fn process_metrics_are_read_from_the_exposition() {
        let text = "HTTP/1.1 200 OK\r\n\r\n# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes{service=\"a\"} 1.048576e6\n";
        let metrics = parse(text).unwrap();
        assert_eq!(metrics.cpu_seconds, 12.5);
        assert_eq!(metrics.rss_bytes, 1_048_576);
        assert!(parse("process_cpu_seconds_total 1\n").is_err());
    }
}
