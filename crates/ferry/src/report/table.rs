//! The comparison table of `ferry report`: one column per run, each figure with its ratio to
//! the first run's.

use crate::load::RunResult;
use crate::units::{format_count, format_micros};

use super::NamedRun;

/// A figure compared across runs.
struct Row {
    label: &'static str,
    value: fn(&RunResult) -> f64,
    format: fn(f64) -> String,
}

fn rows() -> Vec<Row> {
    let micros = |value: f64| format_micros(value);
    let count = |value: f64| format_count(value.round() as u64);
    let rate = |value: f64| format!("{value:.1}/s");
    let percent = |value: f64| format!("{:.3}%", value * 100.0);
    vec![
        Row {
            label: "throughput",
            value: |r| r.totals.throughput_rps,
            format: rate,
        },
        Row {
            label: "requests",
            value: |r| r.totals.requests as f64,
            format: count,
        },
        Row {
            label: "p50",
            value: |r| r.latency.corrected.p50_us as f64,
            format: micros,
        },
        Row {
            label: "p75",
            value: |r| r.latency.corrected.p75_us as f64,
            format: micros,
        },
        Row {
            label: "p90",
            value: |r| r.latency.corrected.p90_us as f64,
            format: micros,
        },
        Row {
            label: "p99",
            value: |r| r.latency.corrected.p99_us as f64,
            format: micros,
        },
        Row {
            label: "p99.9",
            value: |r| r.latency.corrected.p99_9_us as f64,
            format: micros,
        },
        Row {
            label: "max",
            value: |r| r.latency.corrected.max_us as f64,
            format: micros,
        },
        Row {
            label: "service p99",
            value: |r| r.latency.service.p99_us as f64,
            format: micros,
        },
        Row {
            label: "errors",
            value: |r| r.totals.error_ratio,
            format: percent,
        },
        Row {
            label: "late",
            value: |r| r.totals.late as f64,
            format: count,
        },
        Row {
            label: "dropped",
            value: |r| r.totals.dropped as f64,
            format: count,
        },
    ]
}

/// The table as cells: a header row, then one row per figure.
pub fn cells(runs: &[NamedRun]) -> Vec<Vec<String>> {
    let mut grid = Vec::new();
    let mut header = vec!["".to_string()];
    header.extend(runs.iter().map(|run| run.name.clone()));
    grid.push(header);
    for row in rows() {
        let mut line = vec![row.label.to_string()];
        let first = runs.first().map(|run| (row.value)(&run.result));
        for (index, run) in runs.iter().enumerate() {
            let value = (row.value)(&run.result);
            let mut cell = (row.format)(value);
            if index > 0 {
                cell.push_str(&format!(" ({})", ratio(value, first.unwrap_or(0.0))));
            }
            line.push(cell);
        }
        grid.push(line);
    }
    grid
}

/// `×1.23` against the first run, or `–` when the first run's figure is zero.
pub fn ratio(value: f64, first: f64) -> String {
    if first == 0.0 {
        if value == 0.0 {
            "×1.00".to_string()
        } else {
            "–".to_string()
        }
    } else {
        format!("×{:.2}", value / first)
    }
}

/// A GitHub-flavoured markdown table.
pub fn render_markdown(runs: &[NamedRun]) -> String {
    let grid = cells(runs);
    let mut out = String::new();
    for (index, line) in grid.iter().enumerate() {
        out.push_str("| ");
        out.push_str(&line.join(" | "));
        out.push_str(" |\n");
        if index == 0 {
            out.push('|');
            for column in 0..line.len() {
                out.push_str(if column == 0 { " --- |" } else { " ---: |" });
            }
            out.push('\n');
        }
    }
    out
}

/// A plain-text table with aligned columns.
pub fn render_text(runs: &[NamedRun]) -> String {
    let grid = cells(runs);
    let columns = grid.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|column| {
            grid.iter()
                .map(|line| line[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &grid {
        for (column, cell) in line.iter().enumerate() {
            let padding = widths[column] - cell.chars().count();
            if column == 0 {
                out.push_str(cell);
                out.push_str(&" ".repeat(padding));
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(padding));
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}
