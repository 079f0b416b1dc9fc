//! A target ready for load: where to send it, and how its CPU and memory are read. Started
//! targets are owned here, so that they stop when the run ends.

use std::time::Duration;

use anyhow::Result;

use super::lab::Role;
use super::sampler::{Sample, Sampler, summarise};
use super::targets::Running;

/// How a target's CPU and RSS are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gauge {
    /// The process tree under this pid, on this machine.
    Tree(u32),
    /// Prometheus process metrics at this URL.
    Metrics(String),
}

pub struct LiveTarget {
    pub name: String,
    pub role: Role,
    pub base_url: String,
    pub gauge: Gauge,
    /// Set when ferry started it.
    pub running: Option<Running>,
}

/// What the gauge read over one run.
pub struct Measured {
    pub samples: Vec<Sample>,
    /// Over the samples after `warmup`.
    pub cpu_mean_percent: f64,
    pub rss_peak_bytes: u64,
}

impl LiveTarget {
    pub fn start_gauge(&self) -> Result<Sampler> {
        match &self.gauge {
            Gauge::Tree(pid) => Sampler::start(*pid),
            Gauge::Metrics(url) => Sampler::start_remote(url),
        }
    }
}

/// The samples of a run with `warmup` before its measured part: CPU counts the measured part
/// only; the warm-up stays in the samples for the charts.
pub fn measured(samples: Vec<Sample>, warmup: Duration) -> Measured {
    let warmup = warmup.as_secs_f64();
    let after: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|sample| sample.t_s >= warmup)
        .collect();
    let (cpu_mean_percent, _) = summarise(&after);
    let (_, rss_peak_bytes) = summarise(&samples);
    Measured {
        samples,
        cpu_mean_percent,
        rss_peak_bytes,
    }
}
