//! The comparison as one self-contained HTML page (inline CSS, static SVG, no script): the
//! matrix, cold start, capacity and instances, then per scenario the CPU and memory over time
//! and the load report's charts (percentile curves, latency and throughput over time).

use std::fmt::Write;

use crate::report::NamedRun;
use crate::report::html::runs_section;
use crate::report::svg::{LineChart, PALETTE, Series, XAxis, YAxis, escape, line_chart};
use crate::units::format_count;

use super::matrix::{CompareReport, display_name, ratio, rows};

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1000px}\
h1{font-size:24px}h2{font-size:17px;margin-top:28px}\
h2.scenario{font-size:20px;margin-top:48px;padding-top:16px;border-top:3px solid #0072b2}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}\
th{background:#f6f6f6}.chart{display:block;margin:12px 0;border:1px solid #eee}\
.note{color:#555;font-size:13px}code{background:#f3f3f3;padding:1px 4px}\
.failure{background:#fde8e8;border:1px solid #d55e00;padding:8px 12px}\
.headline{font-size:18px;background:#eef6fb;border-left:4px solid #0072b2;padding:8px 12px}";

pub fn render(report: &CompareReport) -> String {
    let mut page = String::new();
    let title = "ferry compare: Rust vs Node.js";
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title><style>{STYLE}</style></head><body><h1>{title}</h1>"
    );
    let _ = write!(
        page,
        "<p class=\"note\">Command: <code>{}</code><br>{} cores · {} · {} users · {:.1} s per scenario run, {} round(s), warm-up {:.1} s · wall time {:.0} s · ferry {}</p>",
        escape(&report.command),
        report.cores,
        escape(&report.database),
        format_count(report.settings.users),
        report.settings.duration_s,
        report.settings.rounds,
        report.settings.warmup_s,
        report.wall_time_s,
        escape(&report.ferry_version)
    );
    if let Some(failure) = &report.failure {
        let _ = write!(
            page,
            "<p class=\"failure\">The run did not finish: {}. What was measured before is shown.</p>",
            escape(failure)
        );
    }
    if let Some(ratio) = report.consolidation_ratio {
        let _ = write!(
            page,
            "<p class=\"headline\">For {}/s at p99 ≤ {} ms: <b>{ratio:.2}</b> Node instances per Rust instance.</p>",
            format_count(report.settings.target_rps.round() as u64),
            report.settings.slo_p99_ms
        );
    }
    page.push_str("<ul class=\"note\">");
    for note in &report.notes {
        let _ = write!(page, "<li>{}</li>", escape(note));
    }
    page.push_str("</ul>");

    page.push_str("<h2>Matrix</h2>");
    page.push_str(&matrix_table(report));
    page.push_str("<h2>Cold start</h2><p class=\"note\">From spawn to the first 200 of <code>/health/ready</code>; idle RSS of the whole process tree.</p>");
    page.push_str(&bar_chart(
        "Cold start (ms): median and max",
        &report
            .targets
            .iter()
            .map(|target| {
                let cold = target.cold_start.clone().unwrap_or_default();
                (
                    display_name(&target.name).to_string(),
                    vec![
                        ("median".to_string(), cold.median_ms),
                        ("max".to_string(), cold.max_ms),
                    ],
                )
            })
            .collect::<Vec<_>>(),
        &|value| format!("{value:.0} ms"),
    ));
    page.push_str(&bar_chart(
        "Idle RSS (MiB)",
        &report
            .targets
            .iter()
            .map(|target| {
                let rss = target.cold_start.as_ref().map_or(0, |c| c.idle_rss_bytes);
                (
                    display_name(&target.name).to_string(),
                    vec![("idle RSS".to_string(), rss as f64 / 1_048_576.0)],
                )
            })
            .collect::<Vec<_>>(),
        &|value| format!("{value:.1} MiB"),
    ));

    page.push_str(&capacity_section(report));

    let scenario_keys: Vec<(String, String)> = report
        .targets
        .iter()
        .flat_map(|target| target.scenarios.iter())
        .fold(Vec::new(), |mut keys, scenario| {
            if !keys.iter().any(|(key, _)| *key == scenario.scenario) {
                keys.push((scenario.scenario.clone(), scenario.title.clone()));
            }
            keys
        });
    for (key, title) in scenario_keys {
        let _ = write!(page, "<h2 class=\"scenario\">{}</h2>", escape(&title));
        if key == "get-user-burst"
            && let Some(schedule) = &report.settings.burst_schedule
        {
            let _ = write!(
                page,
                "<p class=\"note\">Open model, rate schedule <code>{}</code> (base, burst, base; scaled from the slower target's closed-model throughput).</p>",
                escape(schedule)
            );
        }
        let mut runs = Vec::new();
        let mut cpu = Vec::new();
        let mut rss = Vec::new();
        for (colour, target) in report.targets.iter().enumerate() {
            let Some(scenario) = target.scenario(&key) else {
                continue;
            };
            for round in &scenario.rounds {
                let name = format!("{} r{}", display_name(&target.name), round.round);
                cpu.push(Series {
                    name: name.clone(),
                    points: round
                        .samples
                        .iter()
                        .map(|s| (s.t_s, s.cpu_percent))
                        .collect(),
                    dashed: round.round > 1,
                    colour,
                });
                rss.push(Series {
                    name: name.clone(),
                    points: round
                        .samples
                        .iter()
                        .map(|s| (s.t_s, s.rss_bytes as f64 / 1_048_576.0))
                        .collect(),
                    dashed: round.round > 1,
                    colour,
                });
                runs.push(NamedRun {
                    name,
                    result: round.result.clone(),
                });
            }
        }
        page.push_str("<h2>CPU and memory over time</h2><p class=\"note\">The target's whole process tree, every 100 ms, warm-up included; 100% is one core.</p>");
        page.push_str(&line_chart(&LineChart {
            title: "CPU of the process tree (% of one core)",
            x_label: "second (from the start of the warm-up)",
            y_label: "CPU %",
            x_axis: XAxis::Linear,
            y_axis: YAxis::Linear,
            y_format: &|value| format!("{value:.0}%"),
            series: &cpu,
        }));
        page.push_str(&line_chart(&LineChart {
            title: "RSS of the process tree (MiB)",
            x_label: "second (from the start of the warm-up)",
            y_label: "MiB",
            x_axis: XAxis::Linear,
            y_axis: YAxis::Linear,
            y_format: &|value| format!("{value:.0}"),
            series: &rss,
        }));
        page.push_str(&runs_section(&runs));
    }
    page.push_str("</body></html>\n");
    page
}

fn matrix_table(report: &CompareReport) -> String {
    let names: Vec<&str> = report.targets.iter().map(|t| t.name.as_str()).collect();
    let node = names.iter().position(|name| *name == "node");
    let rust = names.iter().position(|name| *name == "rust");
    let mut html = String::from("<table><tr><th>metric</th>");
    for name in &names {
        let _ = write!(html, "<th>{}</th>", escape(display_name(name)));
    }
    if node.is_some() && rust.is_some() {
        html.push_str("<th>Rust / Node</th>");
    }
    html.push_str("</tr>");
    for row in rows(report) {
        let _ = write!(html, "<tr><td>{}</td>", escape(&row.label));
        for value in &row.values {
            let _ = write!(
                html,
                "<td>{}</td>",
                escape(&value.map_or("—".to_string(), row.format))
            );
        }
        if let (Some(node), Some(rust)) = (node, rust) {
            let _ = write!(
                html,
                "<td>{}</td>",
                escape(&ratio(row.values[rust], row.values[node]))
            );
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

fn capacity_section(report: &CompareReport) -> String {
    let mut html = format!(
        "<h2>Capacity at the SLO</h2><p class=\"note\">The highest constant open-model rate of <code>GET /users/{{id}}</code> with p99 ≤ {} ms and errors under {:.1}%, found by bisection; instances needed for {}/s.</p>",
        report.settings.slo_p99_ms,
        report.settings.slo_error_ratio * 100.0,
        format_count(report.settings.target_rps.round() as u64)
    );
    html.push_str(&bar_chart(
        "Capacity at the SLO (requests/s)",
        &report
            .targets
            .iter()
            .map(|target| {
                let rate = target
                    .capacity
                    .as_ref()
                    .and_then(|c| c.rate_rps)
                    .unwrap_or(0.0);
                (
                    display_name(&target.name).to_string(),
                    vec![("capacity".to_string(), rate)],
                )
            })
            .collect::<Vec<_>>(),
        &|value| format!("{}/s", format_count(value.round() as u64)),
    ));
    html.push_str(&bar_chart(
        &format!(
            "Instances for {}/s",
            format_count(report.settings.target_rps.round() as u64)
        ),
        &report
            .targets
            .iter()
            .map(|target| {
                (
                    display_name(&target.name).to_string(),
                    vec![(
                        "instances".to_string(),
                        target.instances.unwrap_or(0) as f64,
                    )],
                )
            })
            .collect::<Vec<_>>(),
        &|value| format!("{value:.0}"),
    ));
    html.push_str("<table><tr><th>target</th><th>probe rate</th><th>throughput</th><th>p99</th><th>errors + dropped</th><th>verdict</th></tr>");
    for target in &report.targets {
        let Some(capacity) = &target.capacity else {
            continue;
        };
        for probe in &capacity.probes {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}/s</td><td>{}/s</td><td>{}</td><td>{:.3}%</td><td>{}</td></tr>",
                escape(display_name(&target.name)),
                format_count(probe.rate_rps.round() as u64),
                format_count(probe.throughput_rps.round() as u64),
                crate::units::format_micros(probe.p99_us as f64),
                probe.error_ratio * 100.0,
                if probe.passed { "pass" } else { "fail" }
            );
        }
    }
    html.push_str("</table>");
    html
}

/// A horizontal grouped bar chart: one group per target, one bar per measure.
fn bar_chart(
    title: &str,
    groups: &[(String, Vec<(String, f64)>)],
    format: &dyn Fn(f64) -> String,
) -> String {
    const WIDTH: f64 = 960.0;
    const LEFT: f64 = 120.0;
    const RIGHT: f64 = 160.0;
    const BAR: f64 = 22.0;
    const GAP: f64 = 14.0;
    let bars: usize = groups.iter().map(|(_, bars)| bars.len()).sum();
    let height = 50.0 + bars as f64 * (BAR + 4.0) + groups.len() as f64 * GAP + 10.0;
    let max = groups
        .iter()
        .flat_map(|(_, bars)| bars.iter().map(|(_, value)| *value))
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let scale = (WIDTH - LEFT - RIGHT) / max;
    let mut svg = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height:.0}\" viewBox=\"0 0 {WIDTH} {height:.0}\" font-family=\"system-ui,sans-serif\" font-size=\"12\"><text x=\"{LEFT}\" y=\"24\" font-size=\"14\" font-weight=\"600\">{}</text>",
        escape(title)
    );
    let mut y = 40.0;
    for (colour, (group, bars)) in groups.iter().enumerate() {
        let _ = write!(
            svg,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\" font-weight=\"600\">{}</text>",
            LEFT - 10.0,
            y + BAR * 0.7,
            escape(group)
        );
        for (index, (label, value)) in bars.iter().enumerate() {
            let width = (value * scale).max(1.0);
            let opacity = if index == 0 { 1.0 } else { 0.55 };
            let _ = write!(
                svg,
                "<rect x=\"{LEFT}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{BAR}\" fill=\"{}\" fill-opacity=\"{opacity}\"/><text x=\"{:.1}\" y=\"{:.1}\">{} {}</text>",
                PALETTE[colour % PALETTE.len()],
                LEFT + width + 6.0,
                y + BAR * 0.7,
                escape(label),
                escape(&format(*value))
            );
            y += BAR + 4.0;
        }
        y += GAP;
    }
    svg.push_str("</svg>");
    svg
}
