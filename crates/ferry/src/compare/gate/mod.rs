//! `ferry compare --baseline FILE`: a performance gate. This run is compared with an earlier
//! `compare.json`, target by target and scenario by scenario (matched by name), and each
//! figure gets a verdict by [`rule`]: `regression`, `improvement` or `same`. What is in one
//! run only, or invalid in either, is listed and never compared.
//!
//! Compared, per target and scenario in both runs: throughput (closed model) or p99 (open
//! model); CPU per request (the target's own, and with the database's where both runs have
//! it); peak RSS; capacity where either searched it.

mod figures;
pub mod markdown;
mod matching;
pub mod rule;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use figures::RunIn;
use matching::compare_runs;
pub use rule::{Verdict, parse_threshold};

use super::compare_json::CompareReport;

/// What `--baseline`, `--regression-threshold` and `--markdown` ask of a run.
#[derive(Debug, Default)]
pub struct GateOptions {
    pub baseline: Option<Baseline>,
    /// Where to write the markdown (matrix, verdict and, with a baseline, the changes).
    pub markdown: Option<PathBuf>,
}

/// An earlier run, read, and the threshold to judge against it.
#[derive(Debug)]
pub struct Baseline {
    /// As given on the command line.
    pub file: String,
    pub threshold: f64,
    earlier: RunIn,
}

/// `compare.json`'s `baseline` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineSection {
    /// The earlier `compare.json`, as given.
    pub file: String,
    /// When the earlier run started; null when its file does not say.
    pub started_at_unix_ms: Option<u64>,
    /// `--regression-threshold` as a fraction (0.1 for 10 %).
    pub threshold: f64,
    /// In this run's order: targets, their scenarios, the metrics.
    pub comparisons: Vec<Comparison>,
    /// What is in one run only, invalid in either, or has no figure to compare.
    #[serde(default)]
    pub not_compared: Vec<NotCompared>,
    /// How the two runs were made differently (settings, vars, machine), for the reader.
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub target: String,
    pub scenario: String,
    /// The matrix's name of the figure (`throughput`, `p99`, `CPU per 1k req/s`, ...), or
    /// `capacity`.
    pub metric: String,
    /// The earlier run's figure and this run's; null only for a capacity none held.
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// (after − before) / before; null when a capacity was none held.
    pub change: Option<f64>,
    /// The larger of the two runs' spreads (capacity: of their brackets); null when neither
    /// has one (one round).
    pub spread: Option<f64>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotCompared {
    pub target: String,
    /// Null when the whole target is in one run only.
    pub scenario: Option<String>,
    /// Null when the whole scenario is not compared.
    pub metric: Option<String>,
    pub reason: String,
}

impl BaselineSection {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.comparisons
            .iter()
            .filter(|comparison| comparison.verdict == verdict)
            .count()
    }

    pub fn regressions(&self) -> impl Iterator<Item = &Comparison> {
        self.comparisons
            .iter()
            .filter(|comparison| comparison.verdict == Verdict::Regression)
    }
}

impl Baseline {
    /// Reads the earlier `compare.json`; refuses a file that is not one.
    pub fn read(file: &Path, threshold: f64) -> Result<Baseline> {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--baseline: reading {}", file.display()))?;
        let value: Value = serde_json::from_str(&text)
            .with_context(|| format!("--baseline: {} is not JSON", file.display()))?;
        if !value.get("targets").is_some_and(Value::is_array) {
            bail!(
                "--baseline: {} is not a compare.json (it has no `targets`); `ferry report \
                 --baseline` compares the runs of `ferry load`",
                file.display()
            );
        }
        let earlier = serde_json::from_value(value)
            .with_context(|| format!("--baseline: reading {}", file.display()))?;
        Ok(Baseline {
            file: file.display().to_string(),
            threshold,
            earlier,
        })
    }

    /// This run against the earlier one.
    pub fn section(&self, report: &CompareReport) -> Result<BaselineSection> {
        let now: RunIn = serde_json::to_value(report)
            .and_then(serde_json::from_value)
            .context("reading this run's figures for the baseline comparison")?;
        Ok(compare_runs(
            &self.file,
            self.threshold,
            &self.earlier,
            &now,
        ))
    }
}

/// Applies `--baseline` to the finished (or partial) report, with a note that carries the
/// gate's outcome into every page that shows the notes (the HTML report among them).
pub fn apply(options: &GateOptions, report: &mut CompareReport) -> Result<()> {
    let Some(baseline) = &options.baseline else {
        return Ok(());
    };
    let section = baseline.section(report)?;
    report.notes.push(markdown::note(&section));
    report.baseline = Some(section);
    Ok(())
}

#[cfg(test)]
mod tests;
