//! The HTML report: self-contained (inline style, no script), with the endpoint table and,
//! for each regression, up to five example requests with the three responses side by side.
//! Bodies are cut and credentials masked when the examples are taken.

use std::fmt::Write;

use super::{EndpointReport, INSECURE_NOTE, ShadowReport};
use crate::report::svg::escape;
use crate::shadow::example::{Example, ExampleResponse};
use crate::units::format_count;

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1400px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}h3{font-size:15px}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f6f6f6}\
td.n{text-align:right}.bad{color:#b00020;font-weight:600}.note{color:#555;font-size:13px}\
pre{white-space:pre-wrap;word-break:break-all;font-size:12px;margin:0;max-width:440px}\
code{background:#f3f3f3;padding:1px 4px}";

pub fn render_html(report: &ShadowReport) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>ferry shadow</title><style>{STYLE}</style></head><body><h1>ferry shadow: {} regression field(s)</h1>",
        report.regression_count
    );
    if report.insecure {
        let _ = write!(page, "<p class=\"bad\">{}</p>", escape(INSECURE_NOTE));
    }
    page.push_str(&summary(report));
    page.push_str("<h2>Endpoints</h2>");
    page.push_str(&endpoint_table(&report.endpoints));
    if report.regression_count > 0 {
        page.push_str("<h2>Regressions</h2>");
        for endpoint in &report.endpoints {
            for field in &endpoint.regressions {
                let _ = write!(
                    page,
                    "<h3><code>{}</code> <code>{}</code> ({}): {:.1} % of {} compared, noise {:.1} %</h3>",
                    escape(&endpoint.endpoint),
                    escape(&field.field),
                    field.kind.name(),
                    field.rate * 100.0,
                    endpoint.compared,
                    field.noise_rate * 100.0
                );
                for example in &field.examples {
                    page.push_str(&example_table(example));
                }
            }
        }
    }
    page.push_str("</body></html>\n");
    page
}

fn summary(report: &ShadowReport) -> String {
    let mut html = String::from("<table>");
    let mut row = |name: &str, value: String| {
        let _ = write!(html, "<tr><th>{name}</th><td>{}</td></tr>", escape(&value));
    };
    row("mode", report.mode.clone());
    row("primary", report.targets.primary.clone());
    row(
        "secondary",
        report
            .targets
            .secondary
            .clone()
            .unwrap_or_else(|| "(none)".into()),
    );
    row("candidate", report.targets.candidate.clone());
    let requests = &report.requests;
    row(
        "requests",
        format!(
            "{} read, {} sent, {} compared, {} writes skipped, {} sampled out, {} dropped",
            format_count(requests.read),
            format_count(requests.sent),
            format_count(requests.compared),
            format_count(requests.skipped_writes),
            format_count(requests.sampled_out),
            format_count(requests.dropped)
        ),
    );
    let errors = |counts: &crate::shadow::tally::TargetErrors| {
        format!(
            "{} of {} (connect {}, timeout {}, reset {})",
            counts.errors, counts.requests, counts.connect, counts.timeout, counts.reset
        )
    };
    row("errors, primary", errors(&report.errors.primary));
    if let Some(secondary) = &report.errors.secondary {
        row("errors, secondary", errors(secondary));
    }
    row("errors, candidate", errors(&report.errors.candidate));
    row("ignored fields", report.ignored.join(" "));
    row(
        "rule",
        format!(
            "a field is a regression when the secondary never differs and the candidate does, or when the candidate's rate exceeds the secondary's with z > {}; exit 4 when a regression's rate is above {}",
            report.z_threshold, report.max_diff_rate
        ),
    );
    if let Some(failure) = &report.failure {
        row("failure", failure.clone());
    }
    html.push_str("</table>");
    for warning in &report.warnings {
        let _ = write!(html, "<p class=\"bad\">{}</p>", escape(warning));
    }
    html
}

fn endpoint_table(endpoints: &[EndpointReport]) -> String {
    let mut html = String::from(
        "<table><tr><th>endpoint</th><th>requests</th><th>compared</th><th>errors</th><th>regressions</th><th>noise</th></tr>",
    );
    for endpoint in endpoints {
        let fields = |list: &[super::FieldReport]| {
            list.iter()
                .map(|field| {
                    format!(
                        "<code>{}</code> {} {:.1} % / {:.1} %",
                        escape(&field.field),
                        field.kind.name(),
                        field.rate * 100.0,
                        field.noise_rate * 100.0
                    )
                })
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let _ = write!(
            html,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            escape(&endpoint.endpoint),
            format_count(endpoint.requests),
            format_count(endpoint.compared),
            format_count(endpoint.errors),
            if endpoint.regressions.is_empty() {
                ""
            } else {
                "bad"
            },
            fields(&endpoint.regressions),
            fields(&endpoint.noise)
        );
    }
    html.push_str("</table><p class=\"note\">Rates: candidate / secondary differences from the primary, as shares of the compared requests.</p>");
    html
}

fn example_table(example: &Example) -> String {
    let request = &example.request;
    let mut html = format!(
        "<table><tr><th colspan=\"3\"><code>{} {}</code>{}</th></tr><tr><th>primary</th><th>secondary</th><th>candidate</th></tr><tr>",
        escape(&request.method),
        escape(&request.path),
        request
            .headers
            .iter()
            .map(|[name, value]| format!("<br><code>{}: {}</code>", escape(name), escape(value)))
            .collect::<String>()
    );
    for response in [
        Some(&example.primary),
        example.secondary.as_ref(),
        Some(&example.candidate),
    ] {
        html.push_str("<td>");
        match response {
            Some(response) => html.push_str(&response_cell(response)),
            None => html.push_str("(no secondary)"),
        }
        html.push_str("</td>");
    }
    html.push_str("</tr></table>");
    html
}

fn response_cell(response: &ExampleResponse) -> String {
    let mut text = format!("{}\n", response.status);
    for [name, value] in &response.headers {
        let _ = writeln!(text, "{name}: {value}");
    }
    text.push('\n');
    text.push_str(&response.body);
    if response.body_truncated {
        let _ = write!(text, "\n… ({} bytes in all)", response.body_bytes);
    }
    if let Some(digest) = &response.body_sha256 {
        let _ = write!(text, "\nsha256 {digest}");
    }
    format!("<pre>{}</pre>", escape(&text))
}
