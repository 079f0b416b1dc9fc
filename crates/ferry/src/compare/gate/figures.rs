//! The figures the gate compares, read leniently from a `compare.json` of any version (1 to
//! 3): every field has a default, so that a field an older ferry did not write is unknown,
//! not an error. The run in memory is read the same way (through its own JSON), so that both
//! sides of a comparison are the same kind of thing.

use serde::Deserialize;
use serde_json::Value;

use super::rule::{Better, Span};
use crate::compare::matrix::{
    self, CPU_PER_1K, CPU_PER_1K_WITH_DATABASE, P99, RSS_PEAK, THROUGHPUT,
};

/// The lab's default error bound (`[slo] errors`), for files that do not record theirs.
const DEFAULT_ERROR_BOUND: f64 = 0.001;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RunIn {
    pub schema_version: Option<u64>,
    pub started_at_unix_ms: Option<u64>,
    pub complete: Option<bool>,
    pub failure: Option<String>,
    pub machine: Option<String>,
    pub cores: Option<u64>,
    pub lab: LabIn,
    /// Kept as JSON: its shape changed between versions, and it is only shown.
    pub settings: Value,
    pub targets: Vec<TargetIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LabIn {
    pub name: Option<String>,
    pub vars: serde_json::Map<String, Value>,
    pub slo_p99_ms: Option<f64>,
    pub slo_error_ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TargetIn {
    pub name: String,
    pub scenarios: Vec<ScenarioIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ScenarioIn {
    pub scenario: String,
    pub schedule: Option<String>,
    /// Absent before version 3: then judged from the rounds, as version 3 judges.
    pub valid: Option<bool>,
    pub invalid_reason: Option<String>,
    pub summary: SummaryIn,
    pub rounds: Vec<RoundIn>,
    pub capacity: Option<CapacityIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SummaryIn {
    pub throughput_rps: Option<f64>,
    pub p99_us: Option<f64>,
    pub cpu_mean_percent: Option<f64>,
    pub cpu_percent_per_1k_rps: Option<f64>,
    pub cpu_percent_per_1k_rps_with_database: Option<f64>,
    pub rss_peak_bytes: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RoundIn {
    pub cpu_mean_percent: Option<f64>,
    pub rss_peak_bytes: Option<f64>,
    pub database_cpu_mean_percent: Option<f64>,
    pub result: ResultIn,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ResultIn {
    pub totals: TotalsIn,
    pub latency: LatencyIn,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TotalsIn {
    pub throughput_rps: Option<f64>,
    pub error_ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LatencyIn {
    pub corrected: PercentilesIn,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PercentilesIn {
    pub p99_us: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CapacityIn {
    pub rate_rps: Option<f64>,
    pub bound: Option<String>,
    pub bracket_low_rps: Option<f64>,
    pub bracket_high_rps: Option<f64>,
    pub probes: Vec<ProbeIn>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProbeIn {
    pub rate_rps: Option<f64>,
    pub passed: Option<bool>,
}

impl RunIn {
    pub fn target(&self, name: &str) -> Option<&TargetIn> {
        self.targets.iter().find(|target| target.name == name)
    }

    pub fn error_bound(&self) -> f64 {
        self.lab.slo_error_ratio.unwrap_or(DEFAULT_ERROR_BOUND)
    }
}

impl TargetIn {
    pub fn scenario(&self, name: &str) -> Option<&ScenarioIn> {
        self.scenarios
            .iter()
            .find(|scenario| scenario.scenario == name)
    }
}

impl ScenarioIn {
    /// Open model: the rate is fixed, p99 decides.
    pub fn open(&self) -> bool {
        self.schedule.is_some()
    }

    /// Why the run is not a result, or `None` when it is: its own `valid`, or for files
    /// before version 3 a measured round's error ratio above `error_bound`.
    pub fn invalid(&self, error_bound: f64) -> Option<String> {
        match self.valid {
            Some(true) => None,
            Some(false) => Some(
                self.invalid_reason
                    .clone()
                    .unwrap_or_else(|| "invalid".to_string()),
            ),
            None => {
                let worst = self
                    .rounds
                    .iter()
                    .filter_map(|round| round.result.totals.error_ratio)
                    .fold(0.0, f64::max);
                (worst > error_bound).then(|| format!("invalid: {:.1} % errors", worst * 100.0))
            }
        }
    }

    /// Where the capacity lies; `None` when none was searched.
    pub fn capacity_span(&self) -> Option<Span> {
        let capacity = self.capacity.as_ref()?;
        let rates = |passed: bool| {
            capacity
                .probes
                .iter()
                .filter(move |probe| probe.passed == Some(passed))
                .filter_map(|probe| probe.rate_rps)
        };
        // Version 3 records the bracket; older files have the probes it is drawn from.
        let low = capacity
            .bracket_low_rps
            .or_else(|| rates(true).reduce(f64::max))
            .or(capacity
                .rate_rps
                .filter(|_| capacity.bound.as_deref() != Some("none")))
            .unwrap_or(0.0);
        let high = capacity
            .bracket_high_rps
            .or_else(|| rates(false).reduce(f64::min))
            .filter(|_| capacity.bound.as_deref() != Some("at_least"))
            .unwrap_or(f64::INFINITY);
        Some(Span {
            low,
            high: high.max(low),
        })
    }
}

/// A figure of a scenario the gate compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Throughput,
    P99,
    CpuPer1k,
    CpuPer1kWithDatabase,
    RssPeak,
}

/// The name of the capacity figure in `comparisons[].metric`.
pub const CAPACITY: &str = "capacity";

impl Metric {
    /// The matrix's name of the row.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Throughput => THROUGHPUT,
            Metric::P99 => P99,
            Metric::CpuPer1k => CPU_PER_1K,
            Metric::CpuPer1kWithDatabase => CPU_PER_1K_WITH_DATABASE,
            Metric::RssPeak => RSS_PEAK,
        }
    }

    pub fn better(self) -> Better {
        match self {
            Metric::Throughput => Better::Higher,
            _ => Better::Lower,
        }
    }

    /// The merged figure (over all rounds), as the summary has it; older files without CPU
    /// per request have it from their mean CPU and throughput.
    pub fn value(self, scenario: &ScenarioIn) -> Option<f64> {
        let summary = &scenario.summary;
        match self {
            Metric::Throughput => summary.throughput_rps,
            Metric::P99 => summary.p99_us,
            Metric::CpuPer1k => summary.cpu_percent_per_1k_rps.or_else(|| {
                let rps = summary.throughput_rps.filter(|rps| *rps > 0.0)?;
                Some(summary.cpu_mean_percent? / (rps / 1000.0))
            }),
            Metric::CpuPer1kWithDatabase => summary.cpu_percent_per_1k_rps_with_database,
            Metric::RssPeak => summary.rss_peak_bytes,
        }
    }

    /// The figure of one round, as the matrix computes it for the spread.
    fn round_value(self, round: &RoundIn) -> Option<f64> {
        let rps = round.result.totals.throughput_rps;
        let per_1k = |cpu: f64| {
            let rps = rps.filter(|rps| *rps > 0.0)?;
            Some(cpu / (rps / 1000.0))
        };
        match self {
            Metric::Throughput => rps,
            Metric::P99 => round.result.latency.corrected.p99_us,
            Metric::CpuPer1k => per_1k(round.cpu_mean_percent?),
            Metric::CpuPer1kWithDatabase => {
                per_1k(round.cpu_mean_percent? + round.database_cpu_mean_percent?)
            }
            Metric::RssPeak => round.rss_peak_bytes,
        }
    }

    /// The matrix's spread of the scenario's rounds; `None` with fewer than two rounds, or
    /// when a round lacks the figure.
    pub fn spread(self, scenario: &ScenarioIn) -> Option<f64> {
        let values: Option<Vec<f64>> = scenario
            .rounds
            .iter()
            .map(|round| self.round_value(round))
            .collect();
        matrix::spread(&values?)
    }
}

/// The better direction of a metric named in `comparisons[].metric`.
pub fn better(metric: &str) -> Better {
    if metric == THROUGHPUT || metric == CAPACITY {
        Better::Higher
    } else {
        Better::Lower
    }
}
