//! How the matrix reads: each value as a person should see it ("—" when unknown, "≥" for a
//! lower bound, "none held"), each ratio with its spread, or "invalid run" when either side's
//! errors passed the SLO's bound; the header and the markdown table.

use std::fmt::Write;

use super::super::capacity::Bound;
use super::super::compare_json::CompareReport;
use super::super::lab::Role;
use super::{Row, rows};

impl Row {
    pub(super) fn invalid_at(&self, index: usize) -> bool {
        self.invalid.get(index).copied().unwrap_or(false)
    }

    pub(super) fn bound_at(&self, index: usize) -> Option<Bound> {
        self.bounds.get(index).copied().flatten()
    }

    /// The value of target `index` as shown: "—" when unknown, never 0; an exact capacity
    /// with the bracket it lies in (the lowest rate that failed).
    pub(super) fn value_text(&self, index: usize) -> String {
        let failed_at = self.failed_at.get(index).copied().flatten();
        match (self.values[index], self.bound_at(index), failed_at) {
            (Some(value), Some(Bound::AtLeast), _) => format!("≥ {}", (self.format)(value)),
            (Some(value), Some(Bound::Exact), Some(failed)) => format!(
                "{} (failed at {})",
                (self.format)(value),
                (self.format)(failed)
            ),
            (_, Some(Bound::None), _) => "none held".to_string(),
            (Some(value), _, _) => (self.format)(value),
            (None, _, _) => "—".to_string(),
        }
    }

    /// The ratio cell of `candidate` against `baseline`.
    pub(super) fn ratio_text(&self, candidate: usize, baseline: usize) -> String {
        if self.invalid_at(candidate) || self.invalid_at(baseline) {
            return "invalid run".to_string();
        }
        let Some(ratio) = ratio(self, candidate, baseline) else {
            return "—".to_string();
        };
        // A lower bound over an exact figure is a lower bound of the ratio, and the reverse an
        // upper bound; two lower bounds say nothing of their ratio.
        match (self.bound_at(candidate), self.bound_at(baseline)) {
            (Some(Bound::AtLeast), Some(Bound::AtLeast)) => "—".to_string(),
            (Some(Bound::AtLeast), _) => format!("≥ {}", ratio.text()),
            (_, Some(Bound::AtLeast)) => format!("≤ {}", ratio.text()),
            _ => ratio.text(),
        }
    }
}

/// A ratio of a candidate to the baseline, with the spread it must exceed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub value: f64,
    /// The larger of the two targets' spreads; `None` when either ran one round.
    pub spread: Option<f64>,
    /// The figure has no rounds to disagree (cold start, capacity, instances).
    pub once: bool,
}

impl Ratio {
    /// Within the rounds' own disagreement.
    pub fn measurable(&self) -> bool {
        self.spread
            .is_none_or(|spread| (self.value - 1.0).abs() > spread)
    }

    pub fn text(&self) -> String {
        match self.spread {
            Some(spread) if !self.measurable() => {
                format!("no measurable difference (±{:.0}%)", spread * 100.0)
            }
            Some(spread) => format!("×{:.2} (±{:.0}%)", self.value, spread * 100.0),
            None if self.once => format!("×{:.2}", self.value),
            None => format!("×{:.2} (1 round)", self.value),
        }
    }
}

pub fn ratio(row: &Row, candidate: usize, baseline: usize) -> Option<Ratio> {
    let (value, base) = (row.values[candidate]?, row.values[baseline]?);
    let value = match (value, base) {
        (value, base) if base != 0.0 => value / base,
        (0.0, _) => 1.0,
        _ => return None,
    };
    let spread = match (row.spreads[candidate], row.spreads[baseline]) {
        (Some(a), Some(b)) => Some(a.max(b)),
        _ => None,
    };
    Some(Ratio {
        value,
        spread,
        once: row.once,
    })
}
/// Column headers: every target, then `candidate / baseline` for each candidate.
pub fn header(report: &CompareReport) -> (Vec<String>, Vec<(usize, usize)>) {
    let mut names: Vec<String> = report.targets.iter().map(|t| t.name.clone()).collect();
    let baseline = report.targets.iter().position(|t| t.role == Role::Baseline);
    let mut pairs = Vec::new();
    if let Some(baseline) = baseline {
        for (index, target) in report.targets.iter().enumerate() {
            if target.role == Role::Candidate {
                names.push(format!(
                    "{} / {}",
                    target.name, report.targets[baseline].name
                ));
                pairs.push((index, baseline));
            }
        }
    }
    (names, pairs)
}

/// The cells of one row: values, then ratios.
pub fn cells(row: &Row, pairs: &[(usize, usize)]) -> Vec<String> {
    let mut cells: Vec<String> = (0..row.values.len())
        .map(|index| row.value_text(index))
        .collect();
    for (candidate, baseline) in pairs {
        cells.push(row.ratio_text(*candidate, *baseline));
    }
    cells
}

/// The matrix as a markdown table.
pub fn render_markdown(report: &CompareReport) -> String {
    let (names, pairs) = header(report);
    let mut out = String::from("| metric |");
    for name in &names {
        let _ = write!(out, " {name} |");
    }
    out.push_str("\n| --- |");
    for _ in &names {
        out.push_str(" ---: |");
    }
    out.push('\n');
    for row in rows(report) {
        let _ = write!(out, "| {} |", row.label);
        for cell in cells(&row, &pairs) {
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out
}
