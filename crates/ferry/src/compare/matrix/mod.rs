//! The matrix: one row per metric, one column per target, and one ratio column per
//! candidate against the baseline with the spread between rounds beside it. A ratio within
//! that spread is "no measurable difference".

mod cells;
mod flow_rows;
mod once_rows;

pub use cells::{Ratio, cells, header, ratio, render_markdown};

use crate::units::{format_count, format_micros};

use super::capacity::Bound;
use super::compare_json::{CompareReport, ScenarioReport};
use super::scenarios::RoundRun;

/// One row: a value per target, and how much the rounds of each target disagree.
pub struct Row {
    pub label: String,
    /// The scenario it belongs to, if any.
    pub scenario: Option<String>,
    pub metric: &'static str,
    pub values: Vec<Option<f64>>,
    /// Half the range of the rounds over their mean, per target; `None` with one round.
    pub spreads: Vec<Option<f64>>,
    /// A figure with no rounds (cold start, capacity): its ratios carry no spread.
    pub once: bool,
    pub format: fn(f64) -> String,
    /// Per target: its run of the row's scenario was invalid (errors above the SLO's bound);
    /// its ratios are not drawn. Filled by [`rows`]; empty means all valid.
    pub invalid: Vec<bool>,
    /// Per target, for the capacity row: how far its capacity is known. Empty elsewhere.
    pub bounds: Vec<Option<Bound>>,
    /// Per target, for the capacity row: the lowest failing probe's rate, the top of the
    /// bracket the capacity lies in (`None` when no probe failed). Empty elsewhere.
    pub failed_at: Vec<Option<f64>>,
}

fn micros(value: f64) -> String {
    format_micros(value)
}
pub fn rate(value: f64) -> String {
    format!("{}/s", format_count(value.round() as u64))
}
fn count(value: f64) -> String {
    format_count(value.round() as u64)
}
fn percent(value: f64) -> String {
    format!("{value:.0}%")
}
pub fn mebibytes(value: f64) -> String {
    format!("{:.1} MiB", value / (1024.0 * 1024.0))
}
fn millis(value: f64) -> String {
    format!("{value:.0} ms")
}
fn fraction(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// A scenario metric: its name, its value for a round, how to print it.
type Metric = (&'static str, fn(&RoundRun) -> f64, fn(f64) -> String);

pub const THROUGHPUT: &str = "throughput";
pub const P99: &str = "p99";
pub const CPU_PER_1K: &str = "CPU per 1k req/s";
pub const RSS_PEAK: &str = "RSS peak";
pub const RESPONSE_BYTES: &str = "response body mean";
pub const DATABASE_CPU: &str = "database CPU mean (of one core)";
pub const CPU_PER_1K_WITH_DATABASE: &str = "CPU per 1k req/s with database";

fn per_1k(round: &RoundRun) -> f64 {
    let rps = round.result.unit_throughput_rps();
    if rps > 0.0 {
        round.cpu_mean_percent / (rps / 1000.0)
    } else {
        0.0
    }
}

fn bytes_per_response(round: &RoundRun) -> f64 {
    let totals = &round.result.totals;
    totals.body_bytes as f64 / totals.responses.max(1) as f64
}

fn bytes(value: f64) -> String {
    format!("{} B", format_count(value.round() as u64))
}

const METRICS: [Metric; 9] = [
    (THROUGHPUT, |r| r.result.unit_throughput_rps(), rate),
    ("p50", |r| r.result.unit_latency().p50_us as f64, micros),
    (P99, |r| r.result.unit_latency().p99_us as f64, micros),
    ("p99.9", |r| r.result.unit_latency().p99_9_us as f64, micros),
    (
        "errors",
        |r| (r.result.totals.error_count + r.result.totals.dropped) as f64,
        count,
    ),
    ("CPU mean (of one core)", |r| r.cpu_mean_percent, percent),
    (CPU_PER_1K, per_1k, percent),
    (RSS_PEAK, |r| r.rss_peak_bytes as f64, mebibytes),
    (RESPONSE_BYTES, bytes_per_response, bytes),
];

/// The merged value of a metric (over all rounds), as the summary has it; `None` when
/// unknown (no response to time, no throughput to divide by).
fn merged(scenario: &ScenarioReport, metric: &str) -> Option<f64> {
    let s = &scenario.summary;
    let micros = |value: Option<u64>| value.map(|v| v as f64);
    match metric {
        THROUGHPUT => Some(s.throughput_rps),
        "p50" => micros(s.p50_us),
        P99 => micros(s.p99_us),
        "p99.9" => micros(s.p99_9_us),
        "errors" => Some((s.errors + s.dropped) as f64),
        "CPU mean (of one core)" => Some(s.cpu_mean_percent),
        CPU_PER_1K => s.cpu_percent_per_1k_rps,
        RESPONSE_BYTES => s.response_bytes_mean,
        _ => Some(s.rss_peak_bytes as f64),
    }
}

/// Half the range of `values` over their mean; `None` for fewer than two.
pub fn spread(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let (low, high) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(*v), h.max(*v))
        });
    Some(if mean > 0.0 {
        (high - low) / 2.0 / mean
    } else {
        0.0
    })
}

/// The matrix rows, in the order they are shown.
pub fn rows(report: &CompareReport) -> Vec<Row> {
    let mut rows = Vec::new();
    for (key, _) in report.scenario_keys() {
        rows.extend(scenario_rows(report, &key));
    }
    rows.extend(once_rows::cold_start_rows(report));
    rows.extend(once_rows::instance_rows(report));
    rows.extend(once_rows::pgbench_row(report));
    rows
}

/// The rows of scenario `key`: each of [`METRICS`], the flow's steps, the database's CPU
/// (when it was sampled) and the capacity; each marks the targets whose run was invalid.
fn scenario_rows(report: &CompareReport, key: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = METRICS
        .into_iter()
        .map(|metric| metric_row(report, key, metric))
        .collect();
    rows.extend(flow_rows::step_rows(report, key));
    if report.database.is_some() {
        rows.extend(database_rows(report, key));
    }
    rows.extend(capacity_row(report, key));
    for row in &mut rows {
        if let Some(key) = &row.scenario {
            row.invalid = invalid_runs(report, key);
        }
    }
    rows
}

/// One metric of scenario `key`: each target's merged value, and the spread of its rounds.
fn metric_row(report: &CompareReport, key: &str, (name, pick, format): Metric) -> Row {
    let scenarios: Vec<Option<&ScenarioReport>> = report
        .targets
        .iter()
        .map(|target| target.scenario(key))
        .collect();
    Row {
        label: format!("{key}: {name}"),
        scenario: Some(key.to_string()),
        metric: name,
        values: scenarios
            .iter()
            .map(|s| s.and_then(|s| merged(s, name)))
            .collect(),
        spreads: scenarios
            .iter()
            .map(|s| s.and_then(|s| spread(&s.rounds.iter().map(pick).collect::<Vec<_>>())))
            .collect(),
        once: false,
        format,
        invalid: Vec::new(),
        bounds: Vec::new(),
        failed_at: Vec::new(),
    }
}

/// The capacity row of scenario `key`, when any target searched its capacity: each value with
/// its bound ("≥ N/s", "none held").
fn capacity_row(report: &CompareReport, key: &str) -> Option<Row> {
    let targets = &report.targets;
    let capacities: Vec<Option<f64>> = targets
        .iter()
        .map(|t| {
            t.scenario(key)
                .and_then(|s| s.capacity.as_ref())
                .and_then(|c| c.rate_rps)
        })
        .collect();
    if targets
        .iter()
        .any(|t| t.scenario(key).is_some_and(|s| s.capacity.is_some()))
    {
        let mut row = fixed(
            format!("{key}: capacity at p99 ≤ {} ms", report.lab.slo_p99_ms),
            capacities,
            rate,
        );
        row.bounds = targets
            .iter()
            .map(|t| {
                let capacity = t.scenario(key)?.capacity.as_ref()?;
                Some(capacity.bound)
            })
            .collect();
        row.failed_at = targets
            .iter()
            .map(|t| t.scenario(key)?.capacity.as_ref()?.bracket_high_rps)
            .collect();
        row.invalid = invalid_runs(report, key);
        return Some(row);
    }
    None
}

/// The embedded database's CPU during each target's runs, alone and added to the target's
/// per 1k responses/s; "—" where it was not sampled (an external server).
fn database_rows(report: &CompareReport, key: &str) -> [Row; 2] {
    type Pick = fn(&RoundRun) -> Option<f64>;
    let with_database: Pick = |round| {
        let rps = round.result.unit_throughput_rps();
        let database = round.database_cpu_mean_percent?;
        (rps > 0.0).then(|| (round.cpu_mean_percent + database) / (rps / 1000.0))
    };
    let database: Pick = |round| round.database_cpu_mean_percent;
    let row = |metric: &'static str, summary: fn(&ScenarioReport) -> Option<f64>, pick: Pick| {
        let scenarios: Vec<Option<&ScenarioReport>> =
            report.targets.iter().map(|t| t.scenario(key)).collect();
        Row {
            label: format!("{key}: {metric}"),
            scenario: Some(key.to_string()),
            metric,
            values: scenarios.iter().map(|s| s.and_then(summary)).collect(),
            spreads: scenarios
                .iter()
                .map(|s| {
                    let rounds: Option<Vec<f64>> = (*s)?.rounds.iter().map(pick).collect();
                    spread(&rounds?)
                })
                .collect(),
            once: false,
            format: percent,
            invalid: Vec::new(),
            bounds: Vec::new(),
            failed_at: Vec::new(),
        }
    };
    [
        row(
            DATABASE_CPU,
            |s| s.summary.database_cpu_mean_percent,
            database,
        ),
        row(
            CPU_PER_1K_WITH_DATABASE,
            |s| s.summary.cpu_percent_per_1k_rps_with_database,
            with_database,
        ),
    ]
}

/// Per target: whether its run of scenario `key` was invalid.
fn invalid_runs(report: &CompareReport, key: &str) -> Vec<bool> {
    report
        .targets
        .iter()
        .map(|t| t.scenario(key).is_some_and(|s| !s.valid))
        .collect()
}

/// A row measured once (no rounds to disagree).
fn fixed(label: String, values: Vec<Option<f64>>, format: fn(f64) -> String) -> Row {
    let spreads = vec![None; values.len()];
    Row {
        label,
        scenario: None,
        metric: "",
        values,
        spreads,
        once: true,
        format,
        invalid: Vec::new(),
        bounds: Vec::new(),
        failed_at: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_inside_the_spread_is_no_measurable_difference() {
        assert_eq!(spread(&[90.0, 110.0]), Some(0.1));
        assert_eq!(spread(&[5.0]), None);
        let close = Ratio {
            value: 1.05,
            spread: Some(0.1),
            once: false,
        };
        assert!(!close.measurable());
        assert_eq!(close.text(), "no measurable difference (±10%)");
        let far = Ratio {
            value: 2.0,
            ..close
        };
        assert_eq!(far.text(), "×2.00 (±10%)");
        let one = Ratio {
            spread: None,
            ..far
        };
        assert_eq!(one.text(), "×2.00 (1 round)");
        assert_eq!(Ratio { once: true, ..one }.text(), "×2.00");
    }

    #[test]
    fn a_capacity_shows_its_bracket_and_an_unknown_one_no_number() {
        let row = Row {
            label: "get: capacity at p99 ≤ 10 ms".into(),
            scenario: Some("get".into()),
            metric: "capacity",
            values: vec![Some(2_000.0), Some(8_000.0), None, None],
            spreads: vec![None; 4],
            once: true,
            format: rate,
            invalid: Vec::new(),
            bounds: vec![
                Some(Bound::Exact),
                Some(Bound::AtLeast),
                Some(Bound::None),
                None,
            ],
            failed_at: vec![Some(2_500.0), None, Some(400.0), None],
        };
        assert_eq!(row.value_text(0), "2,000/s (failed at 2,500/s)");
        assert_eq!(row.value_text(1), "≥ 8,000/s");
        assert_eq!(row.value_text(2), "none held");
        assert_eq!(row.value_text(3), "—");
    }
}
