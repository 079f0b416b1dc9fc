//! A target ready for load: where to send it, and how its CPU and memory are read. Started
//! targets are owned here, so that they stop when the run ends.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::load::LoadSettings;

use super::lab::Role;
use super::sampler::{Reading, Sample, Sampler, Source, Window, rss_peak, series, window_mean};
use super::targets::Running;

/// How a target's (or the embedded database's) CPU and RSS are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gauge {
    /// The process tree under this pid, on this machine.
    Tree(u32),
    /// Prometheus process metrics at this URL.
    Metrics(String),
    /// A container's cgroup counters, under a limit of `cores` (⌈cpus⌉).
    Cgroup {
        cgroup: super::container::Cgroup,
        cores: u32,
    },
}

pub struct LiveTarget {
    pub name: String,
    pub role: Role,
    pub base_url: String,
    /// How to speak TLS to an `https` target (`[target.tls]`; the default for an `https`
    /// `url` without the table); `None` for plaintext.
    pub tls: Option<crate::load::TlsOptions>,
    pub gauge: Gauge,
    /// Its `after_start` outputs, from their last run: placeholders of this target only.
    pub outputs: BTreeMap<String, String>,
    /// Its `[target.headers]`, their placeholders filled in.
    pub headers: Vec<(String, String)>,
    /// Set when ferry started it.
    pub running: Option<Running>,
}

/// What a gauge read over one run.
pub struct Measured {
    /// Every reading's rate, from the start of the warm-up, readings less than 50 ms apart
    /// merged (charts).
    pub samples: Vec<Sample>,
    /// Over the measured window only, from the cumulative counters at its ends; `None`
    /// when the run ended before the window had two readings.
    pub cpu_mean_percent: Option<f64>,
    pub rss_peak_bytes: u64,
    /// Samples (and the mean) above `cores` × 100 %, clamped to it.
    pub cpu_clamped_samples: u32,
}

impl Gauge {
    /// Starts reading the gauge; the load must start right after, so that `window` (from
    /// [`window`]) is the load's measured part.
    pub fn start(&self, window: Window) -> Result<Sampler> {
        Sampler::start(
            match self {
                Gauge::Tree(pid) => Source::Tree(*pid),
                Gauge::Metrics(url) => Source::Metrics(url.clone()),
                Gauge::Cgroup { cgroup, .. } => Source::Cgroup(cgroup.clone()),
            },
            window,
        )
    }

    /// The most CPU a reading can honestly show: all the cores of this machine for a tree
    /// here (`cores` of compare.json); none for a remote target, whose cores are unknown.
    pub fn cap(&self) -> Option<f64> {
        match self {
            Gauge::Tree(_) => Some(crate::load::settings::default_threads() as f64 * 100.0),
            Gauge::Metrics(_) => None,
            Gauge::Cgroup { cores, .. } => Some(f64::from(*cores) * 100.0),
        }
    }

    /// The readings of one run as samples, mean and peak.
    pub fn measured(&self, readings: &[Reading], window: &Window) -> Measured {
        let cap = self.cap();
        let (samples, mut clamped) = series(readings, cap);
        let mean = window_mean(readings, window, cap);
        if let Some((_, true)) = mean {
            clamped += 1;
        }
        Measured {
            samples,
            cpu_mean_percent: mean.map(|(mean, _)| mean),
            rss_peak_bytes: rss_peak(readings),
            cpu_clamped_samples: clamped,
        }
    }
}

/// The measured part of a run of `load`, from its start: after the warm-up, for its
/// measured length (open-ended for a number of requests).
pub fn window(load: &LoadSettings) -> Window {
    Window {
        start: load.warmup,
        end: load.measured_duration().map(|length| load.warmup + length),
    }
}
