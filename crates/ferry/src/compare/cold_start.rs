//! Cold start: from spawning a target to its first 200 on its `ready` path, repeated, with
//! the targets alternated so that a change in the machine's state hits both alike; then the
//! idle memory of a started target.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::targets::{Launch, Running};

/// Time given a started target to settle before its idle memory is read.
const SETTLE: Duration = Duration::from_secs(1);

/// The cold starts of one target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    /// Spawn to first 200 of the target's `ready` path, per start, in milliseconds.
    pub samples_ms: Vec<f64>,
    pub median_ms: f64,
    pub max_ms: f64,
    /// RSS of the whole process tree (a container's anonymous memory), idle, after it
    /// settled.
    pub idle_rss_bytes: u64,
    /// Container targets: the engine's own run of a trivial command from the same image,
    /// to its exit, median, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_start_median_ms: Option<f64>,
}

/// Starts each spec `repeats` times (A B A B ...), keeping the last start of each running for
/// the scenarios. Returns the measurements and the running targets, in `specs` order.
pub fn measure(
    specs: &[Launch],
    repeats: u32,
    log_dir: &Path,
    mut on_start: impl FnMut(&str, u32),
) -> Result<(Vec<ColdStart>, Vec<Running>)> {
    let repeats = repeats.max(1);
    let mut results = vec![ColdStart::default(); specs.len()];
    let mut kept = Vec::with_capacity(specs.len());
    for round in 0..repeats {
        for (index, spec) in specs.iter().enumerate() {
            on_start(&spec.name, round + 1);
            let log = log_dir.join(format!("{}.log", spec.name));
            let mut running = spec.spawn(&log)?;
            let ready = running.wait_ready()?;
            results[index].samples_ms.push(ready.as_secs_f64() * 1000.0);
            if round + 1 == repeats {
                kept.push(running);
            } else {
                running.kill();
            }
        }
    }
    std::thread::sleep(SETTLE);
    for (result, running) in results.iter_mut().zip(&kept) {
        result.idle_rss_bytes = running.rss();
        let mut sorted = result.samples_ms.clone();
        sorted.sort_by(f64::total_cmp);
        result.median_ms = median(&sorted);
        result.max_ms = sorted.last().copied().unwrap_or(0.0);
    }
    Ok((results, kept))
}

fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        len if len % 2 == 1 => sorted[len / 2],
        len => (sorted[len / 2 - 1] + sorted[len / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert_eq!(median(&[]), 0.0);
    }
}
