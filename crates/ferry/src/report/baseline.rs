//! `ferry report --baseline FILE`: the performance gate of `ferry compare --baseline` for runs
//! of `ferry load`. Each run's throughput and p99 against the baseline run's, judged by the
//! same rule ([`crate::compare::gate::rule`]). A run has no rounds, so its spread is unknown
//! and the threshold alone is the bound. A run that is mostly errors, or of another model, is
//! listed and not compared.

use std::fmt::Write;

use crate::compare::gate::rule::{self, Better, Verdict};
use crate::load::RunResult;
use crate::units::{format_count, format_micros};

use super::NamedRun;

/// Above this share of errors a run measured the error path (the share above which `ferry
/// load` warns): it is not compared.
const ERROR_BOUND: f64 = 0.01;

/// One figure of one run against the baseline's.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub run: String,
    pub metric: &'static str,
    pub before: f64,
    pub after: f64,
    /// (after − before) / before.
    pub change: f64,
    pub verdict: Verdict,
}

/// Every run against the baseline.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gate {
    pub baseline: String,
    pub threshold: f64,
    pub changes: Vec<Change>,
    /// `run: reason`, for what was not compared.
    pub not_compared: Vec<String>,
    /// How a run was made differently from the baseline.
    pub notes: Vec<String>,
}

impl Gate {
    pub fn regressions(&self) -> usize {
        self.changes
            .iter()
            .filter(|change| change.verdict == Verdict::Regression)
            .count()
    }
}

type Figure = (&'static str, fn(&RunResult) -> f64, Better);

const FIGURES: [Figure; 2] = [
    ("throughput", |r| r.totals.throughput_rps, Better::Higher),
    ("p99", |r| r.latency.corrected.p99_us as f64, Better::Lower),
];

/// Why a run is not a result, or `None`.
fn invalid(result: &RunResult) -> Option<String> {
    let totals = &result.totals;
    if totals.responses == 0 {
        return Some("no responses".into());
    }
    (totals.error_ratio > ERROR_BOUND).then(|| {
        format!(
            "invalid: {}",
            totals
                .top_error_text()
                .unwrap_or_else(|| "errors".to_string())
        )
    })
}

/// `runs` against `baseline`, each figure past `threshold` a regression or an improvement.
pub fn compare(baseline: &NamedRun, runs: &[NamedRun], threshold: f64) -> Gate {
    let mut gate = Gate {
        baseline: baseline.name.clone(),
        threshold,
        ..Gate::default()
    };
    let before = &baseline.result;
    for run in runs {
        let after = &run.result;
        gate.notes.extend(
            differences(before, after)
                .into_iter()
                .map(|note| format!("{}: {note}", run.name)),
        );
        let refused = invalid(before)
            .map(|reason| format!("the baseline run is {reason}"))
            .or_else(|| invalid(after).map(|reason| format!("the run is {reason}")))
            .or_else(|| {
                (before.settings.model != after.settings.model).then(|| {
                    format!(
                        "{} model against the baseline's {}",
                        after.settings.model, before.settings.model
                    )
                })
            });
        if let Some(reason) = refused {
            gate.not_compared.push(format!("{}: {reason}", run.name));
            continue;
        }
        for (metric, value, better) in FIGURES {
            let (old, new) = (value(before), value(after));
            match rule::judge(old, new, None, threshold, better) {
                Some((change, verdict)) => gate.changes.push(Change {
                    run: run.name.clone(),
                    metric,
                    before: old,
                    after: new,
                    change,
                    verdict,
                }),
                None => gate
                    .not_compared
                    .push(format!("{}: {metric} is 0 in the baseline run", run.name)),
            }
        }
    }
    gate
}

/// Settings that make two runs' figures mean different things.
fn differences(before: &RunResult, after: &RunResult) -> Vec<String> {
    let (a, b) = (&before.settings, &after.settings);
    let urls = |settings: &crate::load::result::SettingsRecord| {
        settings
            .targets
            .iter()
            .map(|t| format!("{} {}", t.method, t.url))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let pairs = [
        (
            "rate",
            format!("{:?}", a.rate_schedule),
            format!("{:?}", b.rate_schedule),
        ),
        (
            "connections",
            a.connections.to_string(),
            b.connections.to_string(),
        ),
        (
            "duration",
            format!("{:?}", a.duration_s),
            format!("{:?}", b.duration_s),
        ),
        ("requests", urls(a), urls(b)),
        ("host", before.host.clone(), after.host.clone()),
    ];
    pairs
        .into_iter()
        .filter(|(_, old, new)| old != new)
        .map(|(what, old, new)| format!("{what} {old} → {new}"))
        .collect()
}

/// The gate as a table (markdown or aligned text), then what was not compared and the notes.
pub fn render(gate: &Gate, markdown: bool) -> String {
    let mut grid =
        vec![["run", "metric", "before", "after", "change", "verdict"].map(str::to_string)];
    for c in &gate.changes {
        let format = |value: f64| match c.metric {
            "p99" => format_micros(value),
            _ => format!("{}/s", format_count(value.round() as u64)),
        };
        grid.push([
            c.run.clone(),
            c.metric.to_string(),
            format(c.before),
            format(c.after),
            format!("{:+.1}%", c.change * 100.0),
            c.verdict.label().to_string(),
        ]);
    }
    let mut out = format!(
        "\nAgainst the baseline {} (threshold {:.0}%): {} regression(s).\n\n",
        gate.baseline,
        gate.threshold * 100.0,
        gate.regressions()
    );
    out.push_str(&if markdown {
        markdown_table(&grid)
    } else {
        text_table(&grid)
    });
    for line in &gate.not_compared {
        let _ = writeln!(out, "not compared: {line}");
    }
    for note in &gate.notes {
        let _ = writeln!(out, "differs: {note}");
    }
    out
}

fn markdown_table(grid: &[[String; 6]]) -> String {
    let mut out = String::new();
    for (index, line) in grid.iter().enumerate() {
        let _ = writeln!(out, "| {} |", line.join(" | "));
        if index == 0 {
            out.push_str("| --- | --- | ---: | ---: | ---: | --- |\n");
        }
    }
    out
}

fn text_table(grid: &[[String; 6]]) -> String {
    let widths: Vec<usize> = (0..6)
        .map(|column| {
            grid.iter()
                .map(|line| line[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in grid {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
    }
    out
}
