//! One measured run of a scenario against one target, with the target's CPU and memory read
//! alongside, and the rounds of a scenario merged.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::load::{LoadSettings, RunResult};

use super::live::{LiveTarget, measured};
use super::sampler::Sample;

/// One measured run of one scenario against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRun {
    /// 1-based.
    pub round: u32,
    /// Mean CPU of the target's process tree during the run, in % of one core.
    pub cpu_mean_percent: f64,
    /// Peak RSS of the target's process tree during the run.
    pub rss_peak_bytes: u64,
    /// Every 100 ms, from the start of the warm-up.
    pub samples: Vec<Sample>,
    pub result: RunResult,
}

/// Runs `load` against `target`, its CPU and memory read meanwhile.
pub fn run_round(
    load: &LoadSettings,
    target: &LiveTarget,
    round: u32,
    stop: Arc<AtomicBool>,
) -> Result<RoundRun> {
    let gauge = target.start_gauge()?;
    let outcome = crate::load::run_until_stopped(load, stop);
    let measured = measured(gauge.finish(), load.warmup);
    Ok(RoundRun {
        round,
        cpu_mean_percent: measured.cpu_mean_percent,
        rss_peak_bytes: measured.rss_peak_bytes,
        samples: measured.samples,
        result: outcome?,
    })
}

/// The rounds of a scenario on one target, merged: histograms added bucket by bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    /// Responses per second over all measured rounds.
    pub throughput_rps: f64,
    pub requests: u64,
    pub responses: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p99_9_us: u64,
    pub max_us: u64,
    /// Transport errors plus 4xx and 5xx responses.
    pub errors: u64,
    pub error_ratio: f64,
    pub late: u64,
    pub dropped: u64,
    pub cpu_mean_percent: f64,
    pub rss_peak_bytes: u64,
    /// CPU (in % of one core) per 1,000 responses/s: the cost of the work itself.
    pub cpu_percent_per_1k_rps: f64,
}

pub fn summarise_rounds(rounds: &[RoundRun]) -> Result<ScenarioSummary> {
    let mut merged: Option<Histogram<u64>> = None;
    let mut summary = ScenarioSummary::default();
    let mut seconds = 0.0;
    for round in rounds {
        let totals = &round.result.totals;
        let histogram = round.result.histograms.corrected()?;
        match merged.as_mut() {
            Some(all) => all
                .add(&histogram)
                .context("merging the rounds' histograms")?,
            None => merged = Some(histogram),
        }
        seconds += totals.duration_s;
        summary.requests += totals.requests;
        summary.responses += totals.responses;
        summary.errors += totals.error_count;
        summary.late += totals.late;
        summary.dropped += totals.dropped;
        summary.cpu_mean_percent += round.cpu_mean_percent / rounds.len() as f64;
        summary.rss_peak_bytes = summary.rss_peak_bytes.max(round.rss_peak_bytes);
    }
    if seconds > 0.0 {
        summary.throughput_rps = summary.responses as f64 / seconds;
    }
    if summary.requests > 0 {
        summary.error_ratio = summary.errors as f64 / summary.requests as f64;
    }
    if let Some(histogram) = merged.filter(|histogram| !histogram.is_empty()) {
        summary.p50_us = histogram.value_at_quantile(0.5);
        summary.p99_us = histogram.value_at_quantile(0.99);
        summary.p99_9_us = histogram.value_at_quantile(0.999);
        summary.max_us = histogram.max();
    }
    if summary.throughput_rps > 0.0 {
        summary.cpu_percent_per_1k_rps =
            summary.cpu_mean_percent / (summary.throughput_rps / 1000.0);
    }
    Ok(summary)
}
