//! One measured run of a scenario against one target, with the target's CPU and memory read
//! alongside, and the rounds of a scenario merged.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::load::{LoadSettings, RunResult};

use super::flow_summary::{self, FlowSummary};
use super::live::{Gauge, LiveTarget, window};
use super::sampler::Sample;

/// One measured run of one scenario against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRun {
    /// 1-based.
    pub round: u32,
    /// Mean CPU of the target's process tree over the measured part of the run, in % of one
    /// core: its CPU time at the end minus at the start, over the wall time between.
    pub cpu_mean_percent: f64,
    /// Peak RSS of the target's process tree during the run.
    pub rss_peak_bytes: u64,
    /// Every 100 ms, from the start of the warm-up.
    pub samples: Vec<Sample>,
    /// Samples (and the mean) that read above `cores` × 100 % and were clamped to it.
    #[serde(default)]
    pub cpu_clamped_samples: u32,
    /// The embedded database's process tree (postmaster and backends) over the same
    /// window, like `cpu_mean_percent`; null when not sampled (no database, or an external
    /// one).
    #[serde(default)]
    pub database_cpu_mean_percent: Option<f64>,
    pub result: RunResult,
}

/// Runs `load` against `target`, its CPU and memory read meanwhile, and the `database`'s
/// CPU too when given (only one target is under load at a time, so the database's work
/// during the run is this target's).
pub fn run_round(
    load: &LoadSettings,
    target: &LiveTarget,
    database: Option<&Gauge>,
    round: u32,
    stop: Arc<AtomicBool>,
) -> Result<RoundRun> {
    let window = window(load);
    let database_sampler = database.map(|gauge| gauge.start(window)).transpose()?;
    let sampler = target.gauge.start(window)?;
    let outcome = crate::load::run_until_stopped(load, stop);
    let measured = target.gauge.measured(&sampler.finish(), &window);
    let database_cpu_mean_percent = database
        .zip(database_sampler)
        .and_then(|(gauge, sampler)| gauge.measured(&sampler.finish(), &window).cpu_mean_percent);
    Ok(RoundRun {
        round,
        // Unknown only when the run ended before its measured part had begun.
        cpu_mean_percent: measured.cpu_mean_percent.unwrap_or(0.0),
        rss_peak_bytes: measured.rss_peak_bytes,
        samples: measured.samples,
        cpu_clamped_samples: measured.cpu_clamped_samples,
        database_cpu_mean_percent,
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
    /// Latency of the corrected histogram; null without a response.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub p99_9_us: Option<u64>,
    pub max_us: Option<u64>,
    /// Transport errors plus the responses whose status counts as an error.
    pub errors: u64,
    pub error_ratio: f64,
    pub late: u64,
    pub dropped: u64,
    pub cpu_mean_percent: f64,
    pub rss_peak_bytes: u64,
    /// CPU (in % of one core) per 1,000 responses/s: the cost of the work itself; null
    /// without responses.
    pub cpu_percent_per_1k_rps: Option<f64>,
    /// Response body bytes over responses, over every measured round; null without
    /// responses. Two targets that differ here do not do the same work.
    pub response_bytes_mean: Option<f64>,
    /// The embedded database's CPU during the rounds (their mean); null unless every round
    /// sampled it.
    #[serde(default)]
    pub database_cpu_mean_percent: Option<f64>,
    /// (`cpu_mean_percent` + `database_cpu_mean_percent`) per 1,000 responses/s: the work
    /// including what the target made the database do; null without the database's figure.
    #[serde(default)]
    pub cpu_percent_per_1k_rps_with_database: Option<f64>,
    /// A flow scenario's iterations and steps. Then `throughput_rps`, the latencies and the
    /// CPU per 1k are the completed iterations', while `requests`, `responses` and `errors`
    /// count every step's requests. Absent for a scenario of requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow: Option<FlowSummary>,
}

pub fn summarise_rounds(rounds: &[RoundRun]) -> Result<ScenarioSummary> {
    let mut merged: Option<Histogram<u64>> = None;
    let mut summary = ScenarioSummary::default();
    let mut seconds = 0.0;
    let mut body_bytes = 0u64;
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
        body_bytes += totals.body_bytes;
        summary.errors += totals.error_count;
        summary.late += totals.late;
        summary.dropped += totals.dropped;
        summary.cpu_mean_percent += round.cpu_mean_percent / rounds.len() as f64;
        summary.rss_peak_bytes = summary.rss_peak_bytes.max(round.rss_peak_bytes);
    }
    if seconds > 0.0 {
        summary.throughput_rps = summary.responses as f64 / seconds;
    }
    if let Some((flow, latency)) = flow_summary::summarise(rounds)? {
        let completed = flow.iterations - flow.failed;
        summary.throughput_rps = if seconds > 0.0 {
            completed as f64 / seconds
        } else {
            0.0
        };
        summary.flow = Some(flow);
        merged = Some(latency);
    }
    if summary.responses > 0 {
        summary.response_bytes_mean = Some(body_bytes as f64 / summary.responses as f64);
    }
    if summary.requests > 0 {
        summary.error_ratio = summary.errors as f64 / summary.requests as f64;
    }
    if let Some(histogram) = merged.filter(|histogram| !histogram.is_empty()) {
        summary.p50_us = Some(histogram.value_at_quantile(0.5));
        summary.p99_us = Some(histogram.value_at_quantile(0.99));
        summary.p99_9_us = Some(histogram.value_at_quantile(0.999));
        summary.max_us = Some(histogram.max());
    }
    if summary.throughput_rps > 0.0 {
        summary.cpu_percent_per_1k_rps =
            Some(summary.cpu_mean_percent / (summary.throughput_rps / 1000.0));
    }
    let database: Option<Vec<f64>> = rounds.iter().map(|r| r.database_cpu_mean_percent).collect();
    summary.database_cpu_mean_percent = database
        .filter(|means| !means.is_empty())
        .map(|means| means.iter().sum::<f64>() / means.len() as f64);
    summary.cpu_percent_per_1k_rps_with_database = summary
        .database_cpu_mean_percent
        .filter(|_| summary.throughput_rps > 0.0)
        .map(|database| (summary.cpu_mean_percent + database) / (summary.throughput_rps / 1000.0));
    Ok(summary)
}
