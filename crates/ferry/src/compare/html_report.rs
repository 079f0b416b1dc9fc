//! The comparison as one self-contained HTML page (inline CSS, static SVG, no script): the
//! verdict, the matrix, cold start, capacity and instances, then per scenario the CPU and
//! memory over time and the load report's charts. Each target keeps the colour of its place
//! in the lab's target list in every chart.

use std::fmt::Write;

use crate::report::NamedRun;
use crate::report::bar_chart::{BarGroup, bar_chart};
use crate::report::html::runs_section_coloured;
use crate::report::svg::{LineChart, PALETTE, Series, XAxis, YAxis, escape, line_chart};
use crate::units::format_count;

use super::compare_json::CompareReport;
use super::matrix::{cells, header, rows};
use super::verdict::verdict;

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#222;max-width:1100px}\
h1{font-size:24px}h2{font-size:17px;margin-top:28px}\
h2.scenario{font-size:20px;margin-top:48px;padding-top:16px;border-top:3px solid #0072b2}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}\
th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}\
th{background:#f6f6f6}.chart{display:block;margin:12px 0;border:1px solid #eee}\
.note{color:#555;font-size:13px}code{background:#f3f3f3;padding:1px 4px}\
.failure{background:#fde8e8;border:1px solid #d55e00;padding:8px 12px}\
.swatch{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}\
.headline{font-size:16px;background:#eef6fb;border-left:4px solid #0072b2;padding:8px 12px}";

/// The target's colour, by its place in the lab.
fn colour_of(report: &CompareReport, name: &str) -> usize {
    report
        .targets
        .iter()
        .position(|target| target.name == name)
        .unwrap_or(0)
}

pub fn render(report: &CompareReport) -> String {
    let mut page = String::new();
    let title = format!("ferry compare: {}", report.lab.name);
    let _ = write!(
        page,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{0}</title><style>{STYLE}</style></head><body><h1>{0}</h1>",
        escape(&title)
    );
    if let Some(line) = report.insecure_header() {
        let _ = write!(page, "<p class=\"failure\">{}</p>", escape(&line));
    }
    if let Some(description) = &report.lab.description {
        let _ = write!(page, "<p>{}</p>", escape(description));
    }
    let _ = write!(
        page,
        "<p class=\"note\">Command: <code>{}</code><br>ferry ran on {} ({} cores){} · lab file <code>{}</code> · {} round(s), warm-up {:.1} s · wall time {:.0} s · ferry {}</p>",
        escape(&report.command),
        escape(&report.machine),
        report.cores,
        report
            .database
            .as_deref()
            .map(|d| format!(" · {}", escape(d)))
            .unwrap_or_default(),
        escape(&report.lab.file),
        report.settings.rounds,
        report.settings.warmup_s,
        report.wall_time_s,
        escape(&report.ferry_version)
    );
    page.push_str("<p>");
    for target in &report.targets {
        let _ = write!(
            page,
            "<span class=\"swatch\" style=\"background:{}\"></span>{} ({}, {}, on {}) &nbsp; ",
            PALETTE[colour_of(report, &target.name) % PALETTE.len()],
            escape(&target.name),
            serde_json::to_value(target.role)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            escape(&target.kind),
            escape(&target.machine)
        );
    }
    page.push_str("</p>");
    if let Some(failure) = &report.failure {
        let _ = write!(
            page,
            "<p class=\"failure\">The run did not finish: {}. What was measured before is shown.</p>",
            escape(failure)
        );
    }
    let (findings, overall) = verdict(report);
    page.push_str("<h2>Verdict</h2>");
    for line in &overall {
        let _ = write!(page, "<p class=\"headline\">{}</p>", escape(line));
    }
    page.push_str("<ul>");
    for finding in &findings {
        let _ = write!(page, "<li>{}</li>", escape(&finding.sentence));
    }
    page.push_str("</ul><ul class=\"note\">");
    for note in &report.notes {
        let _ = write!(page, "<li>{}</li>", escape(note));
    }
    page.push_str("</ul>");

    page.push_str("<h2>Matrix</h2><p class=\"note\">Each ratio is a candidate against the baseline; ± is the spread between rounds of the same target (half their range over their mean, the larger of the two). A ratio within it is no measurable difference.</p>");
    page.push_str(&matrix_table(report));
    page.push_str(&cold_start_section(report));
    page.push_str(&capacity_section(report));
    for (key, title) in report.scenario_keys() {
        page.push_str(&scenario_section(report, &key, &title));
    }
    page.push_str("</body></html>\n");
    page
}

fn matrix_table(report: &CompareReport) -> String {
    let (names, pairs) = header(report);
    let mut html = String::from("<table><tr><th>metric</th>");
    for name in &names {
        let _ = write!(html, "<th>{}</th>", escape(name));
    }
    html.push_str("</tr>");
    for row in rows(report) {
        let _ = write!(html, "<tr><td>{}</td>", escape(&row.label));
        for cell in cells(&row, &pairs) {
            let _ = write!(html, "<td>{}</td>", escape(&cell));
        }
        html.push_str("</tr>");
    }
    html.push_str("</table>");
    html
}

fn cold_start_section(report: &CompareReport) -> String {
    let started: Vec<_> = report
        .targets
        .iter()
        .filter(|target| target.cold_start.is_some())
        .collect();
    let mut html = String::from("<h2>Cold start</h2>");
    if started.len() < report.targets.len() {
        html.push_str("<p class=\"note\">Targets that were already running (attached or remote) have no cold start: ferry cannot restart them.</p>");
    }
    if started.is_empty() {
        return html;
    }
    html.push_str("<p class=\"note\">From spawn to the first 200 of the target's <code>ready</code> path; idle RSS of the whole process tree.</p>");
    html.push_str(&bar_chart(
        "Cold start (ms): median and max",
        &started
            .iter()
            .map(|target| {
                let cold = target.cold_start.clone().unwrap_or_default();
                (
                    target.name.clone(),
                    colour_of(report, &target.name),
                    vec![
                        ("median".to_string(), Some(cold.median_ms)),
                        ("max".to_string(), Some(cold.max_ms)),
                    ],
                )
            })
            .collect::<Vec<_>>(),
        &|value| format!("{value:.0} ms"),
    ));
    html.push_str(&bar_chart(
        "Idle RSS (MiB)",
        &started
            .iter()
            .map(|target| {
                let rss = target.cold_start.as_ref().map(|c| c.idle_rss_bytes);
                (
                    target.name.clone(),
                    colour_of(report, &target.name),
                    vec![(
                        "idle RSS".to_string(),
                        rss.map(|rss| rss as f64 / 1_048_576.0),
                    )],
                )
            })
            .collect::<Vec<_>>(),
        &|value| format!("{value:.1} MiB"),
    ));
    html
}

fn capacity_section(report: &CompareReport) -> String {
    let mut html = String::new();
    for scenario in &report.cost.scenarios {
        let _ = write!(
            html,
            "<h2>Capacity at the SLO: {}</h2><p class=\"note\">The highest constant open-model rate with p99 ≤ {} ms and errors under {:.1}%, found by bisection; instances needed for {}/s.</p>",
            escape(&scenario.scenario),
            report.lab.slo_p99_ms,
            report.lab.slo_error_ratio * 100.0,
            format_count(report.cost.target_rps.round() as u64)
        );
        html.push_str(&bar_chart(
            "Capacity at the SLO (requests/s) and instances",
            &cost_groups(report, scenario, |target| {
                let bound = report
                    .target(&target.name)
                    .and_then(|t| t.scenario(&scenario.scenario))
                    .and_then(|s| s.capacity.as_ref())
                    .map(|c| c.bound);
                let label = match bound {
                    Some(super::capacity::Bound::AtLeast) => "capacity at least",
                    Some(super::capacity::Bound::None) => "capacity: none held",
                    _ => "capacity",
                };
                vec![(label.to_string(), target.capacity_rps)]
            }),
            &|value| format!("{}/s", format_count(value.round() as u64)),
        ));
        // Money, from the same section: containers, and functions where they could be priced;
        // the title's second line names the region and date of the prices.
        let prices = report.cost.prices.as_ref();
        html.push_str(&bar_chart(
            &format!(
                "Monthly cost ({}) at {}/s: containers and functions\n{}",
                prices.map_or("USD", |p| p.currency.as_str()),
                format_count(report.cost.target_rps.round() as u64),
                prices.map_or("prices: none".into(), |p| p.basis())
            ),
            &cost_groups(report, scenario, |target| {
                vec![
                    ("containers".to_string(), target.monthly_cost),
                    ("functions".to_string(), target.function_monthly_cost),
                ]
            }),
            &|value| format!("{value:.2}"),
        ));
        html.push_str("<table><tr><th>target</th><th>instances</th><th>probe rate</th><th>throughput</th><th>p99</th><th>errors + dropped</th><th>CPU</th><th>verdict</th></tr>");
        for target in &report.targets {
            let Some(capacity) = target
                .scenario(&scenario.scenario)
                .and_then(|s| s.capacity.as_ref())
            else {
                continue;
            };
            let instances = scenario
                .targets
                .iter()
                .find(|t| t.priced.name == target.name)
                .and_then(|t| t.priced.instances)
                .map_or("—".to_string(), |n| n.to_string());
            for probe in &capacity.probes {
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td>{instances}</td><td>{}/s</td><td>{}/s</td><td>{}</td><td>{:.3}%</td><td>{:.0}%</td><td>{}</td></tr>",
                    escape(&target.name),
                    format_count(probe.rate_rps.round() as u64),
                    format_count(probe.throughput_rps.round() as u64),
                    crate::units::format_micros(probe.p99_us as f64),
                    probe.error_ratio * 100.0,
                    probe.cpu_mean_percent,
                    match (probe.passed, &probe.oom_kill) {
                        (_, Some(_)) => "fail (OOM kill)",
                        (true, None) => "pass",
                        (false, None) => "fail",
                    }
                );
            }
        }
        html.push_str("</table>");
    }
    html
}

fn scenario_section(report: &CompareReport, key: &str, title: &str) -> String {
    let mut html = format!(
        "<h2 class=\"scenario\">{}: {}</h2>",
        escape(key),
        escape(title)
    );
    if let Some(schedule) = report
        .targets
        .iter()
        .find_map(|t| t.scenario(key))
        .and_then(|s| s.schedule.as_ref())
    {
        let _ = write!(
            html,
            "<p class=\"note\">Open model, rate schedule <code>{}</code> (relative rates resolved against the slowest target).</p>",
            escape(schedule)
        );
    }
    let mut runs = Vec::new();
    let mut colours = Vec::new();
    let mut cpu = Vec::new();
    let mut rss = Vec::new();
    for target in &report.targets {
        let Some(scenario) = target.scenario(key) else {
            continue;
        };
        let colour = colour_of(report, &target.name);
        for round in &scenario.rounds {
            let name = format!("{} r{}", target.name, round.round);
            let series = |pick: fn(&super::sampler::Sample) -> f64| Series {
                name: name.clone(),
                points: round.samples.iter().map(|s| (s.t_s, pick(s))).collect(),
                dashed: round.round > 1,
                colour,
            };
            cpu.push(series(|s| s.cpu_percent));
            rss.push(series(|s| s.rss_bytes as f64 / 1_048_576.0));
            runs.push(NamedRun {
                name,
                result: round.result.clone(),
            });
            colours.push(colour);
        }
    }
    html.push_str("<h2>CPU and memory over time</h2><p class=\"note\">The target's whole process tree (or its own metrics, for a remote target), warm-up included; 100% is one core. Later rounds are dashed.</p>");
    html.push_str(&line_chart(&LineChart {
        title: "CPU of the process tree (% of one core)",
        x_label: "second (from the start of the warm-up)",
        y_label: "CPU %",
        x_axis: XAxis::Linear,
        y_axis: YAxis::Linear,
        y_format: &|value| format!("{value:.0}%"),
        series: &cpu,
    }));
    html.push_str(&line_chart(&LineChart {
        title: "RSS of the process tree (MiB)",
        x_label: "second (from the start of the warm-up)",
        y_label: "MiB",
        x_axis: XAxis::Linear,
        y_axis: YAxis::Linear,
        y_format: &|value| format!("{value:.0}"),
        series: &rss,
    }));
    html.push_str(&runs_section_coloured(&runs, &colours));
    html
}

/// One bar group per target of a cost scenario, in the target's colour.
fn cost_groups(
    report: &CompareReport,
    scenario: &super::compare_json::CostScenario,
    bars: impl Fn(&crate::cost::TargetCost) -> Vec<(String, Option<f64>)>,
) -> Vec<BarGroup> {
    scenario
        .targets
        .iter()
        .map(|target| {
            (
                target.priced.name.clone(),
                colour_of(report, &target.priced.name),
                bars(&target.priced),
            )
        })
        .collect()
}
