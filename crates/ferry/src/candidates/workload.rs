//! The workload rule and the migration score.
//!
//! A request's *CPU share* is its CPU time over its mean latency: the part of the time a
//! request takes that is spent computing rather than waiting (on a database, another
//! service, a queue for a worker). Compiled code shortens the computing part only.
//!
//! | class | rule |
//! | --- | --- |
//! | `cpu-bound` | CPU share ≥ 0.5: computing is most of the latency |
//! | `io-bound` | CPU share < 0.2: the request mostly waits |
//! | `mixed` | in between |
//!
//! The score ranks services by what a migration could save: the CPU cores the service uses,
//! weighted by its CPU share (capped at 1), so a busy CPU-bound service outranks an equally
//! busy one that waits. Services with equal scores are ordered by p99, slowest first.

use serde::Serialize;

/// At or above: `cpu-bound`.
pub const CPU_BOUND_SHARE: f64 = 0.5;
/// Below: `io-bound`.
pub const IO_BOUND_SHARE: f64 = 0.2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    CpuBound,
    IoBound,
    Mixed,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::CpuBound => "cpu-bound",
            Workload::IoBound => "io-bound",
            Workload::Mixed => "mixed",
        }
    }
}

/// The class and the sentence that says why.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub workload: Workload,
    pub cpu_share: f64,
    pub reason: String,
}

/// Classifies from CPU seconds per request and mean latency (seconds); `None` when either
/// is unknown or the latency is zero.
pub fn classify(cpu_seconds_per_request: f64, mean_latency_seconds: f64) -> Option<Verdict> {
    if !(cpu_seconds_per_request.is_finite()
        && mean_latency_seconds.is_finite()
        && mean_latency_seconds > 0.0
        && cpu_seconds_per_request >= 0.0)
    {
        return None;
    }
    let cpu_share = cpu_seconds_per_request / mean_latency_seconds;
    let (workload, how) = if cpu_share >= CPU_BOUND_SHARE {
        (Workload::CpuBound, "so computing is most of the latency")
    } else if cpu_share < IO_BOUND_SHARE {
        (Workload::IoBound, "so the request mostly waits")
    } else {
        (Workload::Mixed, "so it both computes and waits")
    };
    let reason = format!(
        "{} of CPU per request against a mean latency of {}: CPU is {:.0}% of the time, {how}.",
        millis(cpu_seconds_per_request),
        millis(mean_latency_seconds),
        cpu_share * 100.0
    );
    Some(Verdict {
        workload,
        cpu_share,
        reason,
    })
}

/// The migration score: CPU cores × CPU share (capped at 1).
pub fn score(cpu_cores: f64, cpu_share: Option<f64>) -> f64 {
    cpu_cores.max(0.0) * cpu_share.unwrap_or(0.0).clamp(0.0, 1.0)
}

fn millis(seconds: f64) -> String {
    let ms = seconds * 1000.0;
    if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else if ms >= 0.1 {
        format!("{ms:.2} ms")
    } else {
        format!("{:.0} µs", ms * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_at_its_boundaries() {
        assert_eq!(classify(0.005, 0.010).unwrap().workload, Workload::CpuBound);
        assert_eq!(classify(0.0049, 0.010).unwrap().workload, Workload::Mixed);
        assert_eq!(classify(0.002, 0.010).unwrap().workload, Workload::Mixed);
        assert_eq!(classify(0.0019, 0.010).unwrap().workload, Workload::IoBound);
        assert!(classify(0.001, 0.0).is_none());
        assert!(classify(f64::NAN, 0.01).is_none());
        let verdict = classify(0.0008, 0.001).unwrap();
        assert!(verdict.reason.contains("80%"), "{}", verdict.reason);
    }

    #[test]
    fn the_score_weights_cores_by_cpu_share() {
        assert_eq!(score(2.0, Some(0.5)), 1.0);
        assert_eq!(score(2.0, Some(1.7)), 2.0);
        assert_eq!(score(2.0, None), 0.0);
        assert!(score(1.0, Some(0.9)) > score(1.5, Some(0.3)));
    }
}
