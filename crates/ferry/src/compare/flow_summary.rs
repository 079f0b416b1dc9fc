//! A flow scenario's rounds merged: its iterations, and each step below them.

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::load::flow::FlowRecord;

use super::scenarios::RoundRun;

/// `summary.flow` in `compare.json`: a flow scenario's iterations and steps over every
/// measured round. The summary's throughput and latency are the iterations'.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FlowSummary {
    /// Iterations that ended, completed or failed.
    pub iterations: u64,
    /// Iterations that stopped at a step's error.
    pub failed: u64,
    pub steps: Vec<StepSummary>,
}

/// One step of a flow, over every measured round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepSummary {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub error_ratio: f64,
    /// Responses per second.
    pub throughput_rps: f64,
    /// The step's own request; null without a response.
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// The flow records of `rounds`, merged; `None` unless every round ran a flow. Also gives
/// the completed iterations' merged latency histogram.
pub fn summarise(rounds: &[RoundRun]) -> Result<Option<(FlowSummary, Histogram<u64>)>> {
    let records: Option<Vec<&FlowRecord>> = rounds
        .iter()
        .map(|round| round.result.flow.as_ref())
        .collect();
    let Some(records) = records.filter(|records| !records.is_empty()) else {
        return Ok(None);
    };
    let seconds: f64 = rounds
        .iter()
        .map(|round| round.result.totals.duration_s)
        .sum();
    let mut latency = records[0].histogram()?;
    let mut summary = FlowSummary::default();
    let mut step_histograms = Vec::new();
    for (index, record) in records.iter().enumerate() {
        if index > 0 {
            latency
                .add(record.histogram()?)
                .context("merging the rounds' flow histograms")?;
        }
        summary.iterations += record.iterations;
        summary.failed += record.failed;
        for (position, step) in record.steps.iter().enumerate() {
            if summary.steps.len() <= position {
                summary.steps.push(StepSummary {
                    name: step.name.clone(),
                    ..StepSummary::default()
                });
                step_histograms.push(step.histogram()?);
            } else {
                step_histograms[position]
                    .add(step.histogram()?)
                    .context("merging the rounds' step histograms")?;
            }
            let merged = &mut summary.steps[position];
            merged.requests += step.requests;
            merged.errors += step.errors;
            // Responses, turned back into a rate over every round below.
            merged.throughput_rps += step.throughput_rps * rounds[index].result.totals.duration_s;
        }
    }
    for (step, histogram) in summary.steps.iter_mut().zip(&step_histograms) {
        step.throughput_rps = if seconds > 0.0 {
            step.throughput_rps / seconds
        } else {
            0.0
        };
        if step.requests > 0 {
            step.error_ratio = step.errors as f64 / step.requests as f64;
        }
        if !histogram.is_empty() {
            step.p50_us = Some(histogram.value_at_quantile(0.5));
            step.p99_us = Some(histogram.value_at_quantile(0.99));
        }
    }
    Ok(Some((summary, latency)))
}
