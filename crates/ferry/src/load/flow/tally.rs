//! What a flow's iterations measured: counted per worker, merged at the end of the run.

use hdrhistogram::Histogram;

use super::super::histogram::new_latency_histogram;

/// One step's requests in measured iterations.
#[derive(Debug, Clone)]
pub struct StepTally {
    pub requests: u64,
    pub responses: u64,
    /// Transport errors, error statuses and failed extractions.
    pub errors: u64,
    /// Each request's own time, from its send to its response's end, in µs.
    pub latency: Histogram<u64>,
}

/// The iterations meant to start in the measured part of the run.
#[derive(Debug, Clone)]
pub struct FlowTally {
    /// Iterations that ended: completed or failed.
    pub iterations: u64,
    /// Iterations that stopped at a step's error.
    pub failed: u64,
    /// Completed iterations, from their intended start to their last response (think time
    /// included), in µs.
    pub latency: Histogram<u64>,
    pub steps: Vec<StepTally>,
}

impl FlowTally {
    pub fn new(steps: usize) -> FlowTally {
        FlowTally {
            iterations: 0,
            failed: 0,
            latency: new_latency_histogram(),
            steps: (0..steps)
                .map(|_| StepTally {
                    requests: 0,
                    responses: 0,
                    errors: 0,
                    latency: new_latency_histogram(),
                })
                .collect(),
        }
    }

    /// Adds another worker's tally of the same flow.
    pub fn add(&mut self, other: &FlowTally) {
        self.iterations += other.iterations;
        self.failed += other.failed;
        self.latency
            .add(&other.latency)
            .expect("all ferry histograms share bounds, so adding one to another cannot fail");
        for (mine, theirs) in self.steps.iter_mut().zip(&other.steps) {
            mine.requests += theirs.requests;
            mine.responses += theirs.responses;
            mine.errors += theirs.errors;
            mine.latency
                .add(&theirs.latency)
                .expect("all ferry histograms share bounds, so adding one to another cannot fail");
        }
    }
}
