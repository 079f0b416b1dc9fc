//! The verdict in plain words, per scenario and overall: where each candidate wins against
//! the baseline and by how much, at what cost in CPU and memory, and where it does not win.
//! A closed-model scenario is won on throughput, an open-model one (the rate is fixed) on
//! p99; a difference within the rounds' spread is no measurable difference.

use super::compare_json::CompareReport;
use super::lab::Role;
use super::matrix::{
    self, CPU_PER_1K, CPU_PER_1K_WITH_DATABASE, P99, RSS_PEAK, Ratio, Row, THROUGHPUT,
};

/// One candidate on one scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub scenario: String,
    pub candidate: String,
    /// The deciding ratio (throughput, or p99 for the open model), candidate / baseline.
    pub deciding: Option<Ratio>,
    pub wins: bool,
    /// Why it was not compared: the candidate's or the baseline's run was invalid.
    pub invalid: Option<String>,
    pub sentence: String,
}

/// Above this relative difference in response body bytes, two targets do not do the same
/// work, and their throughput ratio says so.
const SAME_WORK_TOLERANCE: f64 = 0.10;

/// Why candidate `index`'s comparison with the baseline on `key` is not drawn: the first
/// invalid run of the two, named with its target.
fn invalid_pair(
    report: &CompareReport,
    key: &str,
    index: usize,
    baseline: usize,
) -> Option<String> {
    [index, baseline].into_iter().find_map(|at| {
        let target = &report.targets[at];
        let scenario = target.scenario(key)?;
        let reason = scenario
            .invalid_reason
            .as_ref()
            .filter(|_| !scenario.valid)?;
        Some(format!("{}'s run is {reason}", target.name))
    })
}

/// "not the same work" when the candidate's mean response body differs from the baseline's
/// by more than [`SAME_WORK_TOLERANCE`].
fn work_difference(
    report: &CompareReport,
    key: &str,
    index: usize,
    baseline: usize,
) -> Option<String> {
    let bytes = |at: usize| {
        report.targets[at]
            .scenario(key)?
            .summary
            .response_bytes_mean
    };
    let (candidate, base) = (bytes(index)?, bytes(baseline)?);
    if base <= 0.0 || ((candidate - base) / base).abs() <= SAME_WORK_TOLERANCE {
        return None;
    }
    Some(format!(
        "not the same work: {} sends {:.0} B per response, {} {:.0} B",
        report.targets[index].name, candidate, report.targets[baseline].name, base
    ))
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
        let scenario = Judged::new(report, &rows, &key, baseline_index);
        for (index, target) in report.targets.iter().enumerate() {
            if target.role != Role::Candidate || target.scenario(&key).is_none() {
                continue;
            }
            findings.push(scenario.finding(index));
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

/// One scenario being judged: its matrix rows, and whether it is won on p99 (`open`).
struct Judged<'a> {
    report: &'a CompareReport,
    rows: &'a [Row],
    key: &'a str,
    /// The open model's rate is fixed: p99 decides, not throughput.
    open: bool,
    baseline: usize,
}

impl<'a> Judged<'a> {
    fn new(report: &'a CompareReport, rows: &'a [Row], key: &'a str, baseline: usize) -> Self {
        let open = report
            .targets
            .iter()
            .find_map(|t| t.scenario(key))
            .is_some_and(|s| s.schedule.is_some());
        Judged {
            report,
            rows,
            key,
            open,
            baseline,
        }
    }

    /// Candidate `index` / the baseline on the scenario's row of `metric`.
    fn ratio(&self, metric: &str, index: usize) -> Option<Ratio> {
        self.rows
            .iter()
            .find(|row| row.scenario.as_deref() == Some(self.key) && row.metric == metric)
            .and_then(|row| matrix::ratio(row, index, self.baseline))
    }

    /// Candidate `index` against the baseline: not compared when either run is invalid, else
    /// whether it wins, in a sentence with what it costs.
    fn finding(&self, index: usize) -> Finding {
        let key = self.key;
        let name = &self.report.targets[index].name;
        let baseline = &self.report.targets[self.baseline].name;
        if let Some(reason) = invalid_pair(self.report, key, index, self.baseline) {
            return Finding {
                scenario: key.to_string(),
                candidate: name.clone(),
                deciding: None,
                wins: false,
                sentence: format!(
                    "{key}: {name} is not compared with {baseline}: {reason}, above the SLO's error bound."
                ),
                invalid: Some(reason),
            };
        }
        let open = self.open;
        let (throughput, p99) = (self.ratio(THROUGHPUT, index), self.ratio(P99, index));
        let deciding = if open { p99 } else { throughput };
        let wins = deciding
            .is_some_and(|r| r.measurable() && if open { r.value < 1.0 } else { r.value > 1.0 });
        let lead = lead(name, baseline, deciding, open);
        let costs = self.costs(index, p99);
        let sentence = if costs.is_empty() {
            format!("{key}: {lead}.")
        } else {
            format!("{key}: {lead}; {}.", costs.join(", "))
        };
        Finding {
            scenario: key.to_string(),
            candidate: name.clone(),
            deciding,
            wins,
            invalid: None,
            sentence,
        }
    }

    /// What candidate `index`'s result costs against the baseline's: p99 (when throughput
    /// decides), CPU per request, memory, and a difference in the work done.
    fn costs(&self, index: usize, p99: Option<Ratio>) -> Vec<String> {
        let mut costs = Vec::new();
        if !self.open
            && let Some(p99) = p99
        {
            costs.push(format!("p99 {}", times(p99)));
        }
        if let Some((cpu, which)) =
            cpu_per_request(self.report, self.key, self.rows, index, self.baseline)
        {
            costs.push(format!("{which} {}", times(cpu)));
        }
        if let Some(rss) = self.ratio(RSS_PEAK, index) {
            costs.push(format!("memory {}", times(rss)));
        }
        if let Some(difference) = work_difference(self.report, self.key, index, self.baseline) {
            costs.push(difference);
        }
        costs
    }
}

/// CPU per request, candidate / baseline, and which figure it is: with the embedded
/// database's CPU when it was sampled for every target of the scenario (the work a target
/// makes the database do is its cost), else the targets' own.
fn cpu_per_request(
    report: &CompareReport,
    key: &str,
    rows: &[Row],
    candidate: usize,
    baseline: usize,
) -> Option<(Ratio, &'static str)> {
    let row = |metric: &str| {
        rows.iter()
            .find(|row| row.scenario.as_deref() == Some(key) && row.metric == metric)
    };
    let everyone = |row: &&Row| {
        report
            .targets
            .iter()
            .zip(&row.values)
            .all(|(target, value)| target.scenario(key).is_none() || value.is_some())
    };
    if let Some(with) = row(CPU_PER_1K_WITH_DATABASE).filter(everyone) {
        return matrix::ratio(with, candidate, baseline)
            .map(|ratio| (ratio, "CPU per request with the database"));
    }
    let which = if report.database.is_some() {
        "CPU per request of the target alone (the database's was not sampled)"
    } else {
        "CPU per request"
    };
    matrix::ratio(row(CPU_PER_1K)?, candidate, baseline).map(|ratio| (ratio, which))
}

/// The deciding ratio in words: who serves how much of whose throughput, or whose p99 is how
/// much of whose at the same offered rate (`open`), and whether that wins.
fn lead(name: &str, baseline: &str, deciding: Option<Ratio>, open: bool) -> String {
    match (deciding, open) {
        (None, _) => format!("{} has no figure to compare with {baseline}", name),
        (Some(r), _) if !r.measurable() => format!(
            "{} shows no measurable difference from {baseline} in {} (within ±{:.0}% between rounds)",
            name,
            if open {
                "p99 at the same offered rate"
            } else {
                "throughput"
            },
            r.spread.unwrap_or(0.0) * 100.0
        ),
        (Some(r), false) => format!(
            "{} serves {} {baseline}'s throughput{}",
            name,
            times(r),
            if r.value > 1.0 {
                " (wins)"
            } else {
                " (does not win)"
            }
        ),
        (Some(r), true) => format!(
            "at the same offered rate {}'s p99 is {} {baseline}'s{}",
            name,
            times(r),
            if r.value < 1.0 {
                " (wins)"
            } else {
                " (does not win)"
            }
        ),
    }
}

fn times(ratio: Ratio) -> String {
    match ratio.spread {
        Some(spread) => format!("×{:.2} (±{:.0}%)", ratio.value, spread * 100.0),
        None => format!("×{:.2}", ratio.value),
    }
}

fn overall(report: &CompareReport, findings: &[Finding], name: &str, baseline: &str) -> String {
    let mine: Vec<&Finding> = findings.iter().filter(|f| f.candidate == name).collect();
    let invalid: Vec<String> = mine
        .iter()
        .filter_map(|f| Some(format!("{} ({})", f.scenario, f.invalid.as_ref()?)))
        .collect();
    let list = |wins: bool| -> Vec<String> {
        mine.iter()
            .filter(|f| f.invalid.is_none() && f.wins == wins)
            .map(|f| match f.deciding {
                Some(r) if r.measurable() => format!("{} (×{:.2})", f.scenario, r.value),
                _ => format!("{} (no measurable difference)", f.scenario),
            })
            .collect()
    };
    let (won, not_won) = (list(true), list(false));
    let mut text = match (won.is_empty(), not_won.is_empty()) {
        (true, true) => format!("{name} has no valid scenario to compare with {baseline}."),
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
    if !invalid.is_empty() {
        text.push_str(&format!(
            " Not compared, for invalid runs: {}.",
            invalid.join(", ")
        ));
    }
    for scenario in &report.cost.scenarios {
        let capacity = |who: &str| {
            report
                .target(who)?
                .scenario(&scenario.scenario)?
                .capacity
                .as_ref()
                .map(|c| c.text())
        };
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
                " {name}'s capacity in {} is {}, so it is not sized.",
                scenario.scenario,
                capacity(name).unwrap_or_else(|| "unknown".into())
            )),
            (Some(_), None) => text.push_str(&format!(
                " {baseline}'s capacity in {} is {}, so it is not sized.",
                scenario.scenario,
                capacity(baseline).unwrap_or_else(|| "unknown".into())
            )),
        }
    }
    text
}
