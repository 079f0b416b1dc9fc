//! The self-contained HTML report: inline styles and static SVG, no script, no network, so it
//! opens anywhere and can be archived beside the JSON it came from.

use std::fmt::Write;

use crate::units::{format_count, format_micros};

use super::NamedRun;
use super::svg::{LineChart, Series, XAxis, YAxis, escape, line_chart};
use super::table;

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1000px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}\
th{background:#f6f6f6}.chart{display:block;margin:12px 0;border:1px solid #eee}\
.note{color:#555;font-size:13px}code{background:#f3f3f3;padding:1px 4px}";

/// Renders a whole report page for `runs`, titled `title`.
pub fn render(title: &str, runs: &[NamedRun]) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>",
        escape(title)
    );
    let _ = write!(page, "<h1>{}</h1>", escape(title));
    page.push_str(&runs_section(runs));
    page.push_str("</body></html>\n");
    page
}

/// The report's body for `runs`, without the page around it, for pages that hold several
/// sections (such as a comparison of many scenarios).
pub fn runs_section(runs: &[NamedRun]) -> String {
    let colours: Vec<usize> = (0..runs.len()).collect();
    runs_section_coloured(runs, &colours)
}

/// [`runs_section`] with each run's palette index given (`colours[i]` for `runs[i]`), so
/// that a page with several sections keeps one colour per subject in every chart.
pub fn runs_section_coloured(runs: &[NamedRun], colours: &[usize]) -> String {
    let mut html = String::new();
    html.push_str("<h2>Summary</h2>");
    html.push_str(&settings_table(runs));
    html.push_str(&comparison_table(runs));
    html.push_str("<h2>Latency by percentile</h2><p class=\"note\">Corrected latency counts from each request's intended start time (solid); service time counts from the actual send (dashed). They differ when sends had to wait.</p>");
    html.push_str(&percentile_chart(runs, colours));
    html.push_str("<h2>Latency over time</h2>");
    html.push_str(&latency_over_time_chart(runs, colours));
    html.push_str("<h2>Throughput over time</h2>");
    html.push_str(&throughput_chart(runs, colours));
    html.push_str("<h2>Errors</h2>");
    html.push_str(&errors_chart(runs, colours));
    html.push_str(&errors_table(runs));
    html
}

fn settings_table(runs: &[NamedRun]) -> String {
    let mut html = String::from(
        "<table><tr><th>run</th><th>model</th><th>targets</th><th>connections</th><th>duration</th><th>warm-up</th></tr>",
    );
    for run in runs {
        let settings = &run.result.settings;
        let model = match &settings.rate_schedule {
            Some(schedule) => format!("open, {schedule}"),
            None => "closed".to_string(),
        };
        let targets: Vec<String> = settings
            .targets
            .iter()
            .map(|target| format!("{} {}", target.method, target.url))
            .collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}s</td><td>{:.1}s</td></tr>",
            escape(&run.name),
            escape(&model),
            escape(&targets.join(", ")),
            settings.connections,
            run.result.totals.duration_s,
            settings.warmup_s
        );
    }
    html.push_str("</table>");
    html
}

fn comparison_table(runs: &[NamedRun]) -> String {
    let grid = table::cells(runs);
    let mut html = String::from("<table>");
    for (index, line) in grid.iter().enumerate() {
        let cell = if index == 0 { "th" } else { "td" };
        html.push_str("<tr>");
        for text in line {
            let _ = write!(html, "<{cell}>{}</{cell}>", escape(text));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

fn micros_label(value: f64) -> String {
    format_micros(value)
}

fn percentile_chart(runs: &[NamedRun], colours: &[usize]) -> String {
    let mut series = Vec::new();
    for (&colour, run) in colours.iter().zip(runs) {
        let latency = &run.result.latency;
        series.push(Series {
            name: run.name.clone(),
            points: latency
                .corrected_curve
                .iter()
                .map(|point| (point.percentile, point.latency_us as f64))
                .collect(),
            dashed: false,
            colour,
        });
        if run.result.settings.model == "open" {
            series.push(Series {
                name: format!("{} (service)", run.name),
                points: latency
                    .service_curve
                    .iter()
                    .map(|point| (point.percentile, point.latency_us as f64))
                    .collect(),
                dashed: true,
                colour,
            });
        }
    }
    line_chart(&LineChart {
        title: "Latency by percentile",
        x_label: "percentile",
        y_label: "latency",
        x_axis: XAxis::PercentileNines,
        y_axis: YAxis::Log,
        y_format: &micros_label,
        series: &series,
    })
}

fn latency_over_time_chart(runs: &[NamedRun], colours: &[usize]) -> String {
    let mut series = Vec::new();
    for (&colour, run) in colours.iter().zip(runs) {
        let points = &run.result.time_series;
        series.push(Series {
            name: format!("{} p99", run.name),
            points: points
                .iter()
                .filter(|point| point.responses > 0)
                .map(|point| (point.second as f64, point.p99_us as f64))
                .collect(),
            dashed: false,
            colour,
        });
        series.push(Series {
            name: format!("{} p50", run.name),
            points: points
                .iter()
                .filter(|point| point.responses > 0)
                .map(|point| (point.second as f64, point.p50_us as f64))
                .collect(),
            dashed: true,
            colour,
        });
    }
    line_chart(&LineChart {
        title: "Latency over time (corrected, by intended start second)",
        x_label: "second of run",
        y_label: "latency",
        x_axis: XAxis::Linear,
        y_axis: YAxis::Log,
        y_format: &micros_label,
        series: &series,
    })
}

fn throughput_chart(runs: &[NamedRun], colours: &[usize]) -> String {
    let series: Vec<Series> = runs
        .iter()
        .zip(colours)
        .map(|(run, &colour)| Series {
            name: run.name.clone(),
            points: run
                .result
                .time_series
                .iter()
                .map(|point| (point.second as f64, point.responses as f64))
                .collect(),
            dashed: false,
            colour,
        })
        .collect();
    line_chart(&LineChart {
        title: "Responses per second",
        x_label: "second of run",
        y_label: "responses/s",
        x_axis: XAxis::Linear,
        y_axis: YAxis::Linear,
        y_format: &|value| format_count(value.round() as u64),
        series: &series,
    })
}

fn errors_chart(runs: &[NamedRun], colours: &[usize]) -> String {
    let series: Vec<Series> = runs
        .iter()
        .zip(colours)
        .map(|(run, &colour)| Series {
            name: run.name.clone(),
            points: run
                .result
                .time_series
                .iter()
                .map(|point| {
                    (
                        point.second as f64,
                        (point.error_count + point.dropped) as f64,
                    )
                })
                .collect(),
            dashed: false,
            colour,
        })
        .collect();
    line_chart(&LineChart {
        title: "Errors and dropped sends per second",
        x_label: "second of run",
        y_label: "count",
        x_axis: XAxis::Linear,
        y_axis: YAxis::Linear,
        y_format: &|value| format_count(value.round() as u64),
        series: &series,
    })
}

fn errors_table(runs: &[NamedRun]) -> String {
    let mut html = String::from(
        "<table><tr><th>run</th><th>connect</th><th>timeout</th><th>reset</th><th>other</th><th>4xx</th><th>5xx</th><th>late</th><th>dropped</th><th>statuses</th></tr>",
    );
    for run in runs {
        let totals = &run.result.totals;
        let errors = &totals.errors;
        let statuses: Vec<String> = totals
            .status
            .iter()
            .map(|(status, count)| format!("{status}: {}", format_count(*count)))
            .collect();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&run.name),
            format_count(errors.connect),
            format_count(errors.timeout),
            format_count(errors.reset),
            format_count(errors.other),
            format_count(errors.status_4xx),
            format_count(errors.status_5xx),
            format_count(totals.late),
            format_count(totals.dropped),
            escape(&statuses.join(", "))
        );
    }
    html.push_str("</table>");
    html
}
