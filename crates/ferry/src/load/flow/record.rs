//! A flow's part of the run JSON (`flow`): its iterations and each step.

use anyhow::Result;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::super::encoded::{decode_histogram, encode_histogram};
use super::super::result::Percentiles;
use super::{Flow, FlowTally};

/// `flow` in the run JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Iterations meant to start in the measured part that ended, completed or failed.
    pub iterations: u64,
    /// Iterations that stopped at a step's error (its later steps were not sent).
    pub failed: u64,
    /// Completed iterations per second of measured run.
    pub throughput_rps: f64,
    /// Completed iterations, from their intended start to their last response, think time
    /// included.
    pub latency: Percentiles,
    /// `latency`'s histogram (HdrHistogram V2 + DEFLATE, base64), so that rounds merge.
    pub latency_histogram: String,
    pub steps: Vec<StepRecord>,
}

/// One step of `flow.steps`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step's `name`, or its request.
    pub name: String,
    pub requests: u64,
    /// Transport errors, error statuses and failed extractions.
    pub errors: u64,
    /// `errors / requests` (0 when nothing was sent).
    pub error_ratio: f64,
    /// Responses per second of measured run.
    pub throughput_rps: f64,
    /// The step's own request, from its send to its response's end.
    pub latency: Percentiles,
    /// `latency`'s histogram, encoded like the flow's.
    pub latency_histogram: String,
}

impl FlowRecord {
    /// The record of `tally`, measured over `seconds`.
    pub fn new(flow: &Flow, tally: &FlowTally, seconds: f64) -> Result<FlowRecord> {
        let per_second = |count: u64| {
            if seconds > 0.0 {
                count as f64 / seconds
            } else {
                0.0
            }
        };
        let steps = flow
            .steps
            .iter()
            .zip(&tally.steps)
            .map(|(step, counted)| {
                Ok(StepRecord {
                    name: step.name.clone(),
                    requests: counted.requests,
                    errors: counted.errors,
                    error_ratio: if counted.requests > 0 {
                        counted.errors as f64 / counted.requests as f64
                    } else {
                        0.0
                    },
                    throughput_rps: per_second(counted.responses),
                    latency: Percentiles::of(&counted.latency),
                    latency_histogram: encode_histogram(&counted.latency)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FlowRecord {
            iterations: tally.iterations,
            failed: tally.failed,
            throughput_rps: per_second(tally.iterations - tally.failed),
            latency: Percentiles::of(&tally.latency),
            latency_histogram: encode_histogram(&tally.latency)?,
            steps,
        })
    }

    /// The completed iterations' latency histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>> {
        decode_histogram(&self.latency_histogram)
    }
}

impl StepRecord {
    /// The step's latency histogram.
    pub fn histogram(&self) -> Result<Histogram<u64>> {
        decode_histogram(&self.latency_histogram)
    }
}
