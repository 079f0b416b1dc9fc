//! The per-second time series as CSV (`ferry load --csv`), for spreadsheets and plotting tools.

use std::fmt::Write;

use crate::load::RunResult;

/// Column names, in order; docs/ferry.md describes each.
pub const HEADER: &str = "second,requests,responses,errors,connect_errors,timeout_errors,reset_errors,other_errors,status_4xx,status_5xx,late,dropped,p50_us,p90_us,p99_us,max_us,service_p50_us,service_p99_us";

/// Renders the time series with a header line.
pub fn render_time_series(result: &RunResult) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    for point in &result.time_series {
        let errors = &point.errors;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            point.second,
            point.requests,
            point.responses,
            point.error_count,
            errors.connect,
            errors.timeout,
            errors.reset,
            errors.other,
            errors.status_4xx,
            errors.status_5xx,
            point.late,
            point.dropped,
            point.p50_us,
            point.p90_us,
            point.p99_us,
            point.max_us,
            point.service_p50_us,
            point.service_p99_us,
        );
    }
    out
}
