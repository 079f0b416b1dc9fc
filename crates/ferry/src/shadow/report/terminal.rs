//! The human summary: one line per endpoint (requests, regressions, noise), the worst first,
//! then each regression field with its rate and one example, the errors of each target, the
//! warnings and the verdict.

use std::fmt::Write;

use super::{INSECURE_NOTE, ShadowReport, exit};
use crate::shadow::example::Example;
use crate::shadow::tally::TargetErrors;
use crate::units::format_count;

/// How much of a body the one-line example shows.
const EXAMPLE_CHARS: usize = 100;

/// Renders the report as the lines `ferry shadow` prints.
pub fn render_terminal(report: &ShadowReport) -> String {
    let mut out = String::new();
    write_headline(&mut out, report);
    write_endpoints(&mut out, report);
    if report.regression_count > 0 {
        write_regressions(&mut out, report);
    }
    write_errors(&mut out, report);
    for warning in &report.warnings {
        let _ = writeln!(out, "warning: {warning}");
    }
    write_verdict(&mut out, report);
    out
}

/// The requests read, sent, compared and skipped (and, for a proxy, sampled out and
/// dropped), then the `--insecure` note if it applies.
fn write_headline(out: &mut String, report: &ShadowReport) {
    let requests = &report.requests;
    let _ = writeln!(
        out,
        "ferry shadow ({}): {} requests read, {} sent, {} compared, {} writes skipped{}",
        report.mode,
        format_count(requests.read),
        format_count(requests.sent),
        format_count(requests.compared),
        format_count(requests.skipped_writes),
        if report.mode == "proxy" {
            format!(
                ", {} sampled out, {} mirrors dropped (queue full)",
                format_count(requests.sampled_out),
                format_count(requests.dropped)
            )
        } else {
            String::new()
        }
    );
    if report.insecure {
        let _ = writeln!(out, "{INSECURE_NOTE}");
    }
}

/// The table of endpoints: requests, compared, regression and noise fields.
fn write_endpoints(out: &mut String, report: &ShadowReport) {
    let width = report
        .endpoints
        .iter()
        .map(|endpoint| endpoint.endpoint.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let _ = writeln!(
        out,
        "\n{:<width$}  {:>9}  {:>8}  {:>11}  {:>5}",
        "endpoint", "requests", "compared", "regressions", "noise"
    );
    for endpoint in &report.endpoints {
        let _ = writeln!(
            out,
            "{:<width$}  {:>9}  {:>8}  {:>11}  {:>5}",
            endpoint.endpoint,
            format_count(endpoint.requests),
            format_count(endpoint.compared),
            endpoint.regressions.len(),
            endpoint.noise.len()
        );
    }
}

/// Each regression field with its rate beside the noise's, and its first example.
fn write_regressions(out: &mut String, report: &ShadowReport) {
    out.push_str("\nregressions:\n");
    for endpoint in &report.endpoints {
        for field in &endpoint.regressions {
            let _ = writeln!(
                out,
                "  {}  {}  {}  rate {:.1} % (noise {:.1} %, {} of {})",
                endpoint.endpoint,
                field.field,
                field.kind.name(),
                field.rate * 100.0,
                field.noise_rate * 100.0,
                field.count,
                endpoint.compared
            );
            if let Some(example) = field.examples.first() {
                let _ = writeln!(out, "      e.g. {}", example_line(example, &field.field));
            }
        }
    }
}

/// One line of the requests each target gave no response to, by kind.
fn write_errors(out: &mut String, report: &ShadowReport) {
    out.push_str("\nerrors (no response):");
    let mut errors = vec![("primary", &report.errors.primary)];
    if let Some(secondary) = &report.errors.secondary {
        errors.push(("secondary", secondary));
    }
    errors.push(("candidate", &report.errors.candidate));
    for (name, counts) in errors {
        let _ = write!(out, " {name} {}", error_text(counts));
    }
    out.push('\n');
}

/// The last line: passed, regressed or not made, with the exit status and the pace.
fn write_verdict(out: &mut String, report: &ShadowReport) {
    let verdict = match report.exit_status {
        exit::PASSED => format!(
            "no regression over --max-diff-rate {} ({} fields differ under it)",
            report.max_diff_rate, report.regression_count
        ),
        exit::REGRESSED => format!(
            "{} regression field(s); some above --max-diff-rate {}",
            report.regression_count, report.max_diff_rate
        ),
        _ => format!(
            "the run could not be made: {}",
            report.failure.as_deref().unwrap_or("unknown")
        ),
    };
    let _ = writeln!(
        out,
        "result: {verdict} (exit {}; {:.0} comparisons/s)",
        report.exit_status, report.comparisons_per_second
    );
}

/// A target's errors: `0`, or the count with its kinds.
fn error_text(counts: &TargetErrors) -> String {
    if counts.errors == 0 {
        return "0".to_string();
    }
    format!(
        "{} (connect {}, timeout {}, reset {})",
        counts.errors, counts.connect, counts.timeout, counts.reset
    )
}

/// `GET /users/7: primary 200 `…` / candidate 404 `…``, showing the header or the body.
fn example_line(example: &Example, field: &str) -> String {
    let show = |response: &crate::shadow::example::ExampleResponse| -> String {
        if let Some(name) = field.strip_prefix("header.") {
            let value = response
                .headers
                .iter()
                .find(|[header, _]| header == name)
                .map_or("(none)", |[_, value]| value.as_str());
            format!("{} {name}: {value}", response.status)
        } else if field == "status" {
            response.status.to_string()
        } else {
            let body: String = response.body.chars().take(EXAMPLE_CHARS).collect();
            let cut = if response.body.chars().count() > EXAMPLE_CHARS || response.body_truncated {
                "…"
            } else {
                ""
            };
            format!("{} {body}{cut}", response.status)
        }
    };
    format!(
        "{} {}: primary {} | candidate {}",
        example.request.method,
        example.request.path,
        show(&example.primary),
        show(&example.candidate)
    )
}
