//! The verdict in plain words, per scenario and overall: where each candidate wins against
//! the baseline and by how much, at what cost in CPU and memory, and where it does not win.
//! A closed-model scenario is won on throughput, an open-model one (the rate is fixed) on
//! p99; a difference within the rounds' spread is no measurable difference.

use super::lab::Role;
use super::matrix::{self, CPU_PER_1K, P99, RSS_PEAK, Ratio, Row, THROUGHPUT};
use super::report::CompareReport;

/// One candidate on one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub scenario: String,
    pub candidate: String,
    /// The deciding ratio (throughput, or p99 for the open model), candidate / baseline.
    pub deciding: Option<Ratio>,
    pub wins: bool,
    pub sentence: String,
}

/// Every candidate on every scenario, then one overall line per candidate.
pub fn verdict(report: &CompareReport) -> (Vec<Finding>, Vec<String>) {
    let Some(baseline_index) = report.targets.iter().position(|t| t.role == Role::Baseline) else {
        return (
            Vec::new(),
            vec!["The baseline did not run: no ratios, no verdict.".into()],
        );
    };
    let baseline = &report.targets[baseline_index].name;
    let rows = matrix::rows(report);
    let mut findings = Vec::new();
    for (key, _) in report.scenario_keys() {
        let open = report
            .targets
            .iter()
            .find_map(|t| t.scenario(&key))
            .is_some_and(|s| s.schedule.is_some());
        let row = |metric: &str| -> Option<&Row> {
            rows.iter()
                .find(|row| row.scenario.as_deref() == Some(key.as_str()) && row.metric == metric)
        };
        for (index, target) in report.targets.iter().enumerate() {
            if target.role != Role::Candidate || target.scenario(&key).is_none() {
                continue;
            }
            let of = |metric| row(metric).and_then(|row| matrix::ratio(row, index, baseline_index));
            let (throughput, p99) = (of(THROUGHPUT), of(P99));
            let deciding = if open { p99 } else { throughput };
            let wins = deciding.is_some_and(|r| {
                r.measurable() && if open { r.value < 1.0 } else { r.value > 1.0 }
            });
            let lead = match (deciding, open) {
                (None, _) => format!("{} has no figure to compare with {baseline}", target.name),
                (Some(r), _) if !r.measurable() => format!(
                    "{} shows no measurable difference from {baseline} in {} (within ±{:.0}% between rounds)",
                    target.name,
                    if open {
                        "p99 at the same offered rate"
                    } else {
                        "throughput"
                    },
                    r.spread.unwrap_or(0.0) * 100.0
                ),
                (Some(r), false) => format!(
                    "{} serves {} {baseline}'s throughput{}",
                    target.name,
                    times(r),
                    if r.value > 1.0 {
                        " (wins)"
                    } else {
                        " (does not win)"
                    }
                ),
                (Some(r), true) => format!(
                    "at the same offered rate {}'s p99 is {} {baseline}'s{}",
                    target.name,
                    times(r),
                    if r.value < 1.0 {
                        " (wins)"
                    } else {
                        " (does not win)"
                    }
                ),
            };
            let mut costs = Vec::new();
            if !open && let Some(p99) = p99 {
                costs.push(format!("p99 {}", times(p99)));
            }
            if let Some(cpu) = of(CPU_PER_1K) {
                costs.push(format!("CPU per request {}", times(cpu)));
            }
            if let Some(rss) = of(RSS_PEAK) {
                costs.push(format!("memory {}", times(rss)));
            }
            let sentence = if costs.is_empty() {
                format!("{key}: {lead}.")
            } else {
                format!("{key}: {lead}; {}.", costs.join(", "))
            };
            findings.push(Finding {
                scenario: key.clone(),
                candidate: target.name.clone(),
                deciding,
                wins,
                sentence,
            });
        }
    }
    let overall = report
        .targets
        .iter()
        .filter(|t| t.role == Role::Candidate)
        .map(|target| overall(report, &findings, &target.name, baseline))
        .collect();
    (findings, overall)
}

fn times(ratio: Ratio) -> String {
    match ratio.spread {
        Some(spread) => format!("×{:.2} (±{:.0}%)", ratio.value, spread * 100.0),
        None => format!("×{:.2}", ratio.value),
    }
}

fn overall(report: &CompareReport, findings: &[Finding], name: &str, baseline: &str) -> String {
    let mine: Vec<&Finding> = findings.iter().filter(|f| f.candidate == name).collect();
    let list = |wins: bool| -> Vec<String> {
        mine.iter()
            .filter(|f| f.wins == wins)
            .map(|f| match f.deciding {
                Some(r) if r.measurable() => format!("{} (×{:.2})", f.scenario, r.value),
                _ => format!("{} (no measurable difference)", f.scenario),
            })
            .collect()
    };
    let (won, not_won) = (list(true), list(false));
    let mut text = match (won.is_empty(), not_won.is_empty()) {
        (false, true) => format!(
            "{name} wins against {baseline} on every scenario: {}.",
            won.join(", ")
        ),
        (true, _) => format!(
            "{name} wins against {baseline} on no scenario: {}.",
            not_won.join(", ")
        ),
        (false, false) => format!(
            "{name} wins against {baseline} on {}; it does not win on {}.",
            won.join(", "),
            not_won.join(", ")
        ),
    };
    for scenario in &report.cost.scenarios {
        let count = |who: &str| {
            scenario
                .targets
                .iter()
                .find(|t| t.priced.name == who)
                .and_then(|t| t.priced.instances)
        };
        match (count(name), count(baseline)) {
            (Some(mine), Some(theirs)) => text.push_str(&format!(
                " At the SLO, {} needs {mine} instance(s) of {name} where {baseline} needs {theirs} for {}.",
                scenario.scenario,
                matrix::rate(report.cost.target_rps)
            )),
            (None, _) => text.push_str(&format!(
                " {name} met the SLO at no probed rate of {}.",
                scenario.scenario
            )),
            (Some(_), None) => text.push_str(&format!(
                " {baseline} met the SLO at no probed rate of {}.",
                scenario.scenario
            )),
        }
    }
    text
}
