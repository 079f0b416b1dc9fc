//! What counts as a regression: a figure worse than the earlier run's by more than the larger
//! of the threshold and the spread between rounds (the matrix's spread, the larger of the two
//! runs'). An improvement past the same bound is one; anything within it is the same.
//!
//! Capacity has no rounds: what it knows is its search bracket (the highest passing probe and
//! the lowest failing one), so it counts as lower only when this run's bracket lies wholly
//! below the earlier one's by more than the threshold, and higher only the other way round.

use serde::{Deserialize, Serialize};

/// Which way a figure gets better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Regression,
    Improvement,
    Same,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Same => "same",
        }
    }
}

/// The relative change `(after − before) / before`; `None` when `before` is not a positive
/// finite number (an old file's 0 meant unknown, and no change is relative to nothing).
pub fn change(before: f64, after: f64) -> Option<f64> {
    (before.is_finite() && after.is_finite() && before > 0.0).then(|| (after - before) / before)
}

/// How much worse `change` is, in the direction that is worse for the figure: positive for a
/// worsening, negative for a gain.
pub fn worse_by(change: f64, better: Better) -> f64 {
    match better {
        Better::Higher => -change,
        Better::Lower => change,
    }
}

/// The bound a change must pass: the larger of the threshold and the spread.
pub fn bound(threshold: f64, spread: Option<f64>) -> f64 {
    threshold.max(spread.unwrap_or(0.0))
}

/// The verdict on a figure measured in rounds, with its change; `None` when no change can be
/// drawn (see [`change`]).
pub fn judge(
    before: f64,
    after: f64,
    spread: Option<f64>,
    threshold: f64,
    better: Better,
) -> Option<(f64, Verdict)> {
    let change = change(before, after)?;
    let worse = worse_by(change, better);
    let bound = bound(threshold, spread);
    let verdict = if worse > bound {
        Verdict::Regression
    } else if -worse > bound {
        Verdict::Improvement
    } else {
        Verdict::Same
    };
    Some((change, verdict))
}

/// Where a capacity lies, as its probes tell: `low` ≤ capacity ≤ `high`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// The highest passing probe; 0 when none passed.
    pub low: f64,
    /// The lowest failing probe; infinite when none failed.
    pub high: f64,
}

impl Span {
    /// Both ends known: a probe passed and one failed.
    pub fn bracketed(&self) -> bool {
        self.low > 0.0 && self.high.is_finite()
    }

    /// Half the bracket over its middle, as the matrix's spread of the two probe rates that
    /// enclose the capacity; `None` without two ends.
    pub fn spread(&self) -> Option<f64> {
        self.bracketed()
            .then(|| super::super::matrix::spread(&[self.low, self.high]))
            .flatten()
    }
}

/// The verdict on a capacity; `None` when the spans cannot tell (a lower bound against a
/// figure above it, or two lower bounds).
pub fn judge_capacity(before: Span, after: Span, threshold: f64) -> Option<Verdict> {
    if after.high < before.low * (1.0 - threshold) {
        Some(Verdict::Regression)
    } else if after.low > before.high * (1.0 + threshold) {
        Some(Verdict::Improvement)
    } else if before.bracketed() && after.bracketed() {
        Some(Verdict::Same)
    } else {
        None
    }
}

/// Parses `--regression-threshold`: a percentage (`10%`) or a fraction below 1 (`0.1`).
pub fn parse_threshold(text: &str) -> anyhow::Result<f64> {
    let text = text.trim();
    let (number, scale, hint) = match text.strip_suffix('%') {
        Some(number) => (number.trim(), 100.0, ""),
        None => (
            text,
            1.0,
            " (a bare number is a fraction: write 10% or 0.1)",
        ),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| anyhow::anyhow!("`{text}` is not a threshold (try 10% or 0.1)"))?;
    let fraction = value / scale;
    if !fraction.is_finite() || fraction < 0.0 || (scale == 1.0 && fraction >= 1.0) {
        anyhow::bail!("`{text}` is not a usable threshold{hint}");
    }
    Ok(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_past_the_larger_of_threshold_and_spread_is_a_verdict() {
        // Throughput down by a third against a 10 % threshold: a regression.
        assert_eq!(
            judge(300.0, 100.0, Some(0.05), 0.1, Better::Higher),
            Some((-2.0 / 3.0, Verdict::Regression))
        );
        // The same fall inside a 70 % spread is the same.
        assert_eq!(
            judge(300.0, 100.0, Some(0.7), 0.1, Better::Higher).map(|(_, v)| v),
            Some(Verdict::Same)
        );
        // p99 halved: an improvement; p99 up 5 %: the same.
        assert_eq!(
            judge(2000.0, 1000.0, None, 0.1, Better::Lower).map(|(_, v)| v),
            Some(Verdict::Improvement)
        );
        assert_eq!(
            judge(2000.0, 2100.0, None, 0.1, Better::Lower).map(|(_, v)| v),
            Some(Verdict::Same)
        );
        // Exactly at the bound is not past it.
        assert_eq!(
            judge(100.0, 90.0, None, 0.1, Better::Higher).map(|(_, v)| v),
            Some(Verdict::Same)
        );
        // Nothing to be relative to.
        assert_eq!(judge(0.0, 5.0, None, 0.1, Better::Lower), None);
    }

    #[test]
    fn capacities_compare_by_their_brackets() {
        let exact = |low: f64, high: f64| Span { low, high };
        // 1,000–2,000 before, 300–600 after: wholly below.
        assert_eq!(
            judge_capacity(exact(1000.0, 2000.0), exact(300.0, 600.0), 0.1),
            Some(Verdict::Regression)
        );
        // Overlapping brackets: the same.
        assert_eq!(
            judge_capacity(exact(1000.0, 2000.0), exact(800.0, 1600.0), 0.1),
            Some(Verdict::Same)
        );
        // "≥ 1,000" before and 5,000 after: the earlier capacity may have been higher.
        let at_least = Span {
            low: 1000.0,
            high: f64::INFINITY,
        };
        assert_eq!(judge_capacity(at_least, exact(5000.0, 6000.0), 0.1), None);
        // ... but a fall below the earlier lower bound is certain.
        assert_eq!(
            judge_capacity(at_least, exact(400.0, 800.0), 0.1),
            Some(Verdict::Regression)
        );
        // None held now (below its lowest probe, 50/s), 1,000 before.
        let none = Span {
            low: 0.0,
            high: 50.0,
        };
        assert_eq!(
            judge_capacity(exact(1000.0, 2000.0), none, 0.1),
            Some(Verdict::Regression)
        );
        assert_eq!(exact(1000.0, 3000.0).spread(), Some(0.5));
        assert_eq!(at_least.spread(), None);
    }

    #[test]
    fn thresholds_are_percentages_or_fractions() {
        assert_eq!(parse_threshold("10%").unwrap(), 0.1);
        assert_eq!(parse_threshold("150 %").unwrap(), 1.5);
        assert_eq!(parse_threshold("0.25").unwrap(), 0.25);
        assert!(parse_threshold("10").is_err(), "a bare 10 is not 10 %");
        assert!(parse_threshold("-5%").is_err());
        assert!(parse_threshold("fast").is_err());
    }
}
