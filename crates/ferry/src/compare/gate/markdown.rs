//! The gate in words: a table of the changes, worst first, short enough for a pull-request
//! comment (every regression and improvement, and the closest calls among the rest up to
//! [`MAX_ROWS`]); what was not compared; how the runs differ. The full list is
//! `compare.json`'s `baseline` section.

use std::cmp::Ordering;
use std::fmt::Write;

use super::figures::{CAPACITY, better};
use super::rule::{self, Verdict, worse_by};
use super::{BaselineSection, Comparison};
use crate::compare::matrix::{self, CPU_PER_1K, CPU_PER_1K_WITH_DATABASE, P99, RSS_PEAK};
use crate::units::format_micros;

/// Rows of the changes table; regressions and improvements are always shown, past it too.
const MAX_ROWS: usize = 20;
/// Lines of the "not compared" list.
const MAX_NOT_COMPARED: usize = 15;

/// What `ferry compare` prints: the matrix and the verdict, then the changes.
pub fn terminal(summary: &str, section: Option<&BaselineSection>) -> String {
    match section {
        Some(section) => format!("{summary}\n{}", table(section)),
        None => summary.to_string(),
    }
}

/// What `--markdown` writes: with a baseline, the changes first and the matrix and verdict
/// folded under them (a pull-request comment stays short); without, the matrix and verdict.
pub fn comment(summary: &str, section: Option<&BaselineSection>) -> String {
    match section {
        Some(section) => format!(
            "{}\n<details><summary>This run: the matrix and the verdict</summary>\n\n{summary}\n</details>\n",
            table(section)
        ),
        None => summary.to_string(),
    }
}

/// One line for the report's notes (and so the HTML page).
pub fn note(section: &BaselineSection) -> String {
    let mut regressions: Vec<&Comparison> = section.regressions().collect();
    regressions.sort_by(|a, b| worst_first(a, b));
    let named: Vec<String> = regressions
        .iter()
        .take(3)
        .map(|c| {
            format!(
                "{} on {}: {} {}",
                c.scenario,
                c.target,
                c.metric,
                change_text(c)
            )
        })
        .collect();
    let more = regressions.len().saturating_sub(named.len());
    let mut text = format!(
        "Performance gate against {} (threshold {}): {}",
        section.file,
        percent(section.threshold),
        counts(section)
    );
    if !named.is_empty() {
        let _ = write!(text, "; {}", named.join("; "));
        if more > 0 {
            let _ = write!(text, "; and {more} more");
        }
    }
    text.push_str(". Every figure is in compare.json's `baseline` section.");
    text
}

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

fn counts(section: &BaselineSection) -> String {
    format!(
        "{}, {}, {} the same, {} not compared",
        plural(
            section.count(Verdict::Regression),
            "regression",
            "regressions"
        ),
        plural(
            section.count(Verdict::Improvement),
            "improvement",
            "improvements"
        ),
        section.count(Verdict::Same),
        section.not_compared.len()
    )
}

/// The heading, the changes, what was not compared and how the runs differ.
pub fn table(section: &BaselineSection) -> String {
    let mut out = heading(section);
    write_changes(&mut out, section);
    write_not_compared(&mut out, section);
    write_differences(&mut out, section);
    out
}

/// The title with the number of regressions, and the paragraph naming the earlier run, the
/// counts and the bound.
fn heading(section: &BaselineSection) -> String {
    let when = section
        .started_at_unix_ms
        .and_then(|ms| chrono::DateTime::from_timestamp_millis(ms as i64))
        .map(|time| format!(" (the run of {})", time.format("%Y-%m-%d %H:%M UTC")))
        .unwrap_or_default();
    let regressions = section.count(Verdict::Regression);
    format!(
        "### Performance gate: {}\n\nThis run against `{}`{when}: {}. A figure counts as changed past \
         the larger of the threshold ({}) and the spread between rounds of either run.\n\n",
        if regressions > 0 {
            plural(regressions, "regression", "regressions")
        } else {
            "no regression".to_string()
        },
        section.file,
        counts(section),
        percent(section.threshold)
    )
}

/// The table of the rows [`shown`], what it leaves out, and whether the threshold alone was
/// the bound; or that nothing was compared.
fn write_changes(out: &mut String, section: &BaselineSection) {
    let rows = shown(section);
    if rows.is_empty() {
        out.push_str("Nothing was compared.\n");
        return;
    }
    out.push_str(
        "| target | scenario | metric | before | after | change | bound | verdict |\n\
         | --- | --- | --- | ---: | ---: | ---: | ---: | --- |\n",
    );
    for c in &rows {
        write_row(out, section, c);
    }
    write_not_shown(out, section, &rows);
    // Capacity's spread is its bracket, which a single round has too.
    if section
        .comparisons
        .iter()
        .all(|c| c.metric == CAPACITY || c.spread.is_none())
    {
        out.push_str(
            "\nNeither run had two rounds: no spread was seen, and the threshold alone was the \
             bound (docs/ferry.md, \"In CI\").\n",
        );
    }
}

/// One comparison as a row of the table, a regression in bold.
fn write_row(out: &mut String, section: &BaselineSection, c: &Comparison) {
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | ±{} | {} |",
        c.target,
        c.scenario,
        c.metric,
        value_text(&c.metric, c.before),
        value_text(&c.metric, c.after),
        change_text(c),
        percent(rule::bound(section.threshold, c.spread)),
        match c.verdict {
            Verdict::Regression => "**regression**",
            other => other.label(),
        }
    );
}

/// How many improvements and figures the same the table left out, if any.
fn write_not_shown(out: &mut String, section: &BaselineSection, rows: &[&Comparison]) {
    let left_out =
        |verdict| section.count(verdict) - rows.iter().filter(|c| c.verdict == verdict).count();
    let (improvements, same) = (left_out(Verdict::Improvement), left_out(Verdict::Same));
    let mut hidden = Vec::new();
    if improvements > 0 {
        hidden.push(if improvements < section.count(Verdict::Improvement) {
            plural(improvements, "smaller improvement", "smaller improvements")
        } else {
            plural(improvements, "improvement", "improvements")
        });
    }
    if same > 0 {
        hidden.push(format!("{same} the same"));
    }
    if !hidden.is_empty() {
        let _ = writeln!(
            out,
            "\nNot shown: {} (compare.json's `baseline` section has every figure).",
            hidden.join(", ")
        );
    }
}

/// The list of what was not compared and why, up to [`MAX_NOT_COMPARED`] lines.
fn write_not_compared(out: &mut String, section: &BaselineSection) {
    if section.not_compared.is_empty() {
        return;
    }
    out.push_str("\n**Not compared**\n\n");
    for skipped in section.not_compared.iter().take(MAX_NOT_COMPARED) {
        let what = [
            Some(skipped.target.as_str()),
            skipped.scenario.as_deref(),
            skipped.metric.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" / ");
        let _ = writeln!(out, "- {what}: {}", skipped.reason);
    }
    let more = section.not_compared.len().saturating_sub(MAX_NOT_COMPARED);
    if more > 0 {
        let _ = writeln!(out, "- and {more} more (in compare.json)");
    }
}

/// The notes on how the two runs were made differently, if any.
fn write_differences(out: &mut String, section: &BaselineSection) {
    if section.notes.is_empty() {
        return;
    }
    out.push_str("\n**How the runs differ**\n\n");
    for note in &section.notes {
        let _ = writeln!(out, "- {note}");
    }
}

/// The rows of the table, worst first: every regression; then, up to [`MAX_ROWS`], the
/// largest improvements before the closest calls among the rest.
fn shown(section: &BaselineSection) -> Vec<&Comparison> {
    let mut rows: Vec<&Comparison> = section.comparisons.iter().collect();
    rows.sort_by(|a, b| worst_first(a, b));
    let mut room = MAX_ROWS.saturating_sub(section.count(Verdict::Regression));
    let improvements = section.count(Verdict::Improvement).min(room);
    room -= improvements;
    let same = section.count(Verdict::Same).min(room);
    // Sorted, the improvements are last, the largest at the very end.
    let mut skip_improvements = section.count(Verdict::Improvement) - improvements;
    let mut same_left = same;
    rows.retain(|c| match c.verdict {
        Verdict::Regression => true,
        Verdict::Same if same_left > 0 => {
            same_left -= 1;
            true
        }
        Verdict::Same => false,
        Verdict::Improvement if skip_improvements > 0 => {
            skip_improvements -= 1;
            false
        }
        Verdict::Improvement => true,
    });
    rows
}

/// Regressions first, the worst at the top; then the same, closest to a regression first;
/// then improvements, the smallest first.
fn worst_first(a: &Comparison, b: &Comparison) -> Ordering {
    let rank = |c: &Comparison| match c.verdict {
        Verdict::Regression => 0,
        Verdict::Same => 1,
        Verdict::Improvement => 2,
    };
    rank(a)
        .cmp(&rank(b))
        .then_with(|| worse(b).total_cmp(&worse(a)))
}

/// How much worse a comparison is; a capacity none held is as bad (or as good) as it gets.
fn worse(c: &Comparison) -> f64 {
    match (c.change, c.verdict) {
        (Some(change), _) => worse_by(change, better(&c.metric)),
        (None, Verdict::Regression) => f64::INFINITY,
        (None, _) => f64::NEG_INFINITY,
    }
}

fn percent(fraction: f64) -> String {
    format!("{:.0}%", fraction * 100.0)
}

fn change_text(c: &Comparison) -> String {
    match (c.change, c.before, c.after) {
        (Some(change), _, _) => format!("{:+.1}%", change * 100.0),
        (None, None, _) => "from none held".into(),
        (None, _, _) => "to none held".into(),
    }
}

fn value_text(metric: &str, value: Option<f64>) -> String {
    let Some(value) = value else {
        return "none held".into();
    };
    match metric {
        P99 => format_micros(value),
        CPU_PER_1K | CPU_PER_1K_WITH_DATABASE => format!("{value:.1}%"),
        RSS_PEAK => matrix::mebibytes(value),
        _ => matrix::rate(value),
    }
}
