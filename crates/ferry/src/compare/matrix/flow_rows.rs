//! A flow scenario's steps, listed below its rows: each step's p99 and errors per target.
//! The rows above them (throughput, latency, CPU per 1k) are the whole iteration's.

use super::{Row, ScenarioReport, count, micros, spread};
use crate::compare::compare_json::CompareReport;

/// The metric of a step's latency row; the verdict and the gate read none of these rows.
pub const STEP_P99: &str = "step p99";
/// The metric of a step's error row.
pub const STEP_ERRORS: &str = "step errors";

/// The step rows of scenario `key`, when any target ran it as a flow.
pub fn step_rows(report: &CompareReport, key: &str) -> Vec<Row> {
    let scenarios: Vec<Option<&ScenarioReport>> =
        report.targets.iter().map(|t| t.scenario(key)).collect();
    let Some(names) = scenarios
        .iter()
        .flatten()
        .find_map(|s| s.summary.flow.as_ref())
        .map(|flow| {
            flow.steps
                .iter()
                .map(|s| s.name.clone())
                .collect::<Vec<_>>()
        })
    else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let step = |s: &ScenarioReport| s.summary.flow.as_ref()?.steps.get(index).cloned();
        let round_p99s = |s: &ScenarioReport| -> Vec<f64> {
            s.rounds
                .iter()
                .filter_map(|round| round.result.flow.as_ref()?.steps.get(index))
                .filter(|step| step.latency.count > 0)
                .map(|step| step.latency.p99_us as f64)
                .collect()
        };
        let row = |metric: &'static str, what: &str, format: fn(f64) -> String| Row {
            label: format!("{key} › step {} {name}: {what}", index + 1),
            scenario: Some(key.to_string()),
            metric,
            values: Vec::new(),
            spreads: vec![None; scenarios.len()],
            once: false,
            format,
            invalid: Vec::new(),
            bounds: Vec::new(),
            failed_at: Vec::new(),
        };
        let mut p99 = row(STEP_P99, "p99", micros);
        p99.values = scenarios
            .iter()
            .map(|s| {
                s.and_then(step)
                    .and_then(|step| step.p99_us.map(|v| v as f64))
            })
            .collect();
        p99.spreads = scenarios
            .iter()
            .map(|s| s.and_then(|s| spread(&round_p99s(s))))
            .collect();
        let mut errors = row(STEP_ERRORS, "errors", count);
        errors.values = scenarios
            .iter()
            .map(|s| s.and_then(step).map(|step| step.errors as f64))
            .collect();
        errors.once = true;
        rows.push(p99);
        rows.push(errors);
    }
    rows
}
