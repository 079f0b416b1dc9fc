//! The rows below the scenarios' figures, each measured once per target (no rounds, so no
//! spread): cold start and idle memory, instances for the cost's target rate, and the share of
//! pgbench's throughput.

use super::{Row, count, fixed, fraction, mebibytes, millis, rate};
use crate::compare::cold_start::ColdStart;
use crate::compare::compare_json::CompareReport;

/// The cold start's median and maximum, and the idle RSS; "—" for a target not started.
pub fn cold_start_rows(report: &CompareReport) -> [Row; 3] {
    let cold = |pick: fn(&ColdStart) -> f64| -> Vec<Option<f64>> {
        report
            .targets
            .iter()
            .map(|target| target.cold_start.as_ref().map(pick))
            .collect()
    };
    [
        fixed("cold start median".into(), cold(|c| c.median_ms), millis),
        fixed("cold start max".into(), cold(|c| c.max_ms), millis),
        fixed(
            "idle RSS".into(),
            cold(|c| c.idle_rss_bytes as f64),
            mebibytes,
        ),
    ]
}

/// Per priced scenario, the instances each target needs for the cost's target rate.
pub fn instance_rows(report: &CompareReport) -> Vec<Row> {
    report
        .cost
        .scenarios
        .iter()
        .map(|scenario| {
            fixed(
                format!(
                    "{}: instances for {}",
                    scenario.scenario,
                    rate(report.cost.target_rps)
                ),
                report
                    .targets
                    .iter()
                    .map(|target| {
                        scenario
                            .targets
                            .iter()
                            .find(|t| t.priced.name == target.name)
                            .and_then(|t| t.priced.instances)
                            .map(|n| n as f64)
                    })
                    .collect(),
                count,
            )
        })
        .collect()
}

/// The first scenario's throughput as a share of pgbench's, when pgbench ran.
pub fn pgbench_row(report: &CompareReport) -> Option<Row> {
    report.pgbench.as_ref().map(|_| {
        fixed(
            "first scenario's throughput / pgbench -S".into(),
            report
                .targets
                .iter()
                .map(|target| target.pgbench_fraction)
                .collect(),
            fraction,
        )
    })
}
