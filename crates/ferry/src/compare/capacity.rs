//! Capacity at an SLO: the highest constant open-model rate a target sustains with p99 under
//! the bound and errors under the ratio, found by bisecting (geometrically, since capacities
//! span orders of magnitude) between a low and a high rate.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::scenarios::RoundRun;

/// A probe must deliver at least this share of the offered rate: a target that silently falls
/// behind (requests dropped or still queued) does not sustain the rate.
const MIN_DELIVERED: f64 = 0.95;

/// One probe of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub rate_rps: f64,
    pub throughput_rps: f64,
    /// p99 of corrected latency (from the intended start).
    pub p99_us: u64,
    /// (errors + dropped sends) / (requests + dropped sends).
    pub error_ratio: f64,
    pub passed: bool,
    /// Mean CPU of the target during the probe's measured part, in % of one core.
    pub cpu_mean_percent: f64,
    /// Peak RSS of the target during the probe.
    pub rss_peak_bytes: u64,
}

/// The result of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub slo_p99_us: u64,
    pub slo_error_ratio: f64,
    /// The search interval.
    pub low_rps: f64,
    pub high_rps: f64,
    pub probes: Vec<Probe>,
    /// The highest passing rate; `None` when no probe passed (the capacity is below the
    /// lowest rate tried).
    pub rate_rps: Option<f64>,
}

impl Capacity {
    /// The passing probe at the capacity, for CPU at capacity and its memory.
    pub fn at_capacity(&self) -> Option<&Probe> {
        let rate = self.rate_rps?;
        self.probes
            .iter()
            .find(|probe| probe.passed && probe.rate_rps == rate)
    }
}

/// Whether a run met the objectives.
pub fn judge(rate: f64, run: &RoundRun, slo_p99_us: u64, slo_error_ratio: f64) -> Probe {
    let result = &run.result;
    let totals = &result.totals;
    let attempted = totals.requests + totals.dropped;
    let error_ratio = if attempted > 0 {
        (totals.error_count + totals.dropped) as f64 / attempted as f64
    } else {
        1.0
    };
    let p99_us = result.latency.corrected.p99_us;
    let passed = attempted > 0
        && p99_us <= slo_p99_us
        && error_ratio < slo_error_ratio
        && totals.throughput_rps >= rate * MIN_DELIVERED;
    Probe {
        rate_rps: rate,
        throughput_rps: totals.throughput_rps,
        p99_us,
        error_ratio,
        passed,
        cpu_mean_percent: run.cpu_mean_percent,
        rss_peak_bytes: run.rss_peak_bytes,
    }
}

/// Bisects between `low` and `high` with `probes` runs of `probe(rate)`.
pub fn search(
    low: f64,
    high: f64,
    probes: u32,
    slo_p99_us: u64,
    slo_error_ratio: f64,
    mut probe: impl FnMut(f64) -> Result<RoundRun>,
) -> Result<Capacity> {
    let mut capacity = Capacity {
        slo_p99_us,
        slo_error_ratio,
        low_rps: low,
        high_rps: high,
        probes: Vec::new(),
        rate_rps: None,
    };
    let (mut passing, mut failing) = (low, high);
    for _ in 0..probes {
        let rate = (passing * failing).sqrt().round().max(1.0);
        let result = probe(rate)?;
        let outcome = judge(rate, &result, slo_p99_us, slo_error_ratio);
        if outcome.passed {
            passing = rate;
            capacity.rate_rps = Some(capacity.rate_rps.map_or(rate, |best: f64| best.max(rate)));
        } else {
            failing = rate;
        }
        capacity.probes.push(outcome);
    }
    Ok(capacity)
}
