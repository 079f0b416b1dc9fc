//! Matching two runs: targets and scenarios by name, what is in one run only or invalid in
//! either (listed), and the figures of what is in both (judged by [`super::rule`]); and how
//! the two runs were made differently.

use serde_json::Value;

use super::figures::{CAPACITY, Metric, RunIn, ScenarioIn};
use super::{BaselineSection, Comparison, NotCompared, rule};

/// `now` against `earlier`.
pub fn compare_runs(file: &str, threshold: f64, earlier: &RunIn, now: &RunIn) -> BaselineSection {
    let mut section = BaselineSection {
        file: file.to_string(),
        started_at_unix_ms: earlier.started_at_unix_ms,
        threshold,
        comparisons: Vec::new(),
        not_compared: Vec::new(),
        notes: differences(earlier, now),
    };
    match_targets(earlier, now, &mut section);
    section
}

fn skip(target: &str, scenario: Option<&str>, reason: String) -> NotCompared {
    NotCompared {
        target: target.to_string(),
        scenario: scenario.map(str::to_string),
        metric: None,
        reason,
    }
}

fn match_targets(earlier: &RunIn, now: &RunIn, section: &mut BaselineSection) {
    for target in &now.targets {
        let Some(before) = earlier.target(&target.name) else {
            section
                .not_compared
                .push(skip(&target.name, None, "only in this run".into()));
            continue;
        };
        for scenario in &target.scenarios {
            let key = scenario.scenario.as_str();
            let Some(old) = before.scenario(key) else {
                section
                    .not_compared
                    .push(skip(&target.name, Some(key), "only in this run".into()));
                continue;
            };
            let invalid = [
                (old.invalid(earlier.error_bound()), "the baseline run"),
                (scenario.invalid(now.error_bound()), "this run"),
            ];
            if let Some((Some(reason), run)) = invalid.into_iter().find(|(r, _)| r.is_some()) {
                section.not_compared.push(skip(
                    &target.name,
                    Some(key),
                    format!("invalid in {run} ({reason})"),
                ));
                continue;
            }
            if old.open() != scenario.open() {
                section.not_compared.push(skip(
                    &target.name,
                    Some(key),
                    "closed model in one run, open in the other".into(),
                ));
                continue;
            }
            compare_scenario(&target.name, old, scenario, section);
        }
        for old in &before.scenarios {
            if target.scenario(&old.scenario).is_none() {
                section.not_compared.push(skip(
                    &target.name,
                    Some(&old.scenario),
                    "only in the baseline run".into(),
                ));
            }
        }
    }
    for old in &earlier.targets {
        if now.target(&old.name).is_none() {
            section
                .not_compared
                .push(skip(&old.name, None, "only in the baseline run".into()));
        }
    }
}

fn compare_scenario(
    target: &str,
    before: &ScenarioIn,
    after: &ScenarioIn,
    section: &mut BaselineSection,
) {
    let deciding = if after.open() {
        Metric::P99
    } else {
        Metric::Throughput
    };
    let metrics = [
        deciding,
        Metric::CpuPer1k,
        Metric::CpuPer1kWithDatabase,
        Metric::RssPeak,
    ];
    let key = after.scenario.as_str();
    let unknown = |metric: &str, reason: &str| NotCompared {
        target: target.to_string(),
        scenario: Some(key.to_string()),
        metric: Some(metric.to_string()),
        reason: reason.to_string(),
    };
    for metric in metrics {
        let (old, new) = (metric.value(before), metric.value(after));
        // A lab without a database has no such figure in either run: nothing to say.
        if metric == Metric::CpuPer1kWithDatabase && old.is_none() && new.is_none() {
            continue;
        }
        let (Some(old), Some(new)) = (old, new) else {
            let which = if old.is_none() {
                "unknown in the baseline run"
            } else {
                "unknown in this run"
            };
            section.not_compared.push(unknown(metric.name(), which));
            continue;
        };
        // Throughput can fall to nothing; CPU, RSS or p99 read as 0 were below what the
        // counters resolve (or not read at all), and no change is drawn from them.
        if new == 0.0 && metric != Metric::Throughput {
            section
                .not_compared
                .push(unknown(metric.name(), "0 in this run"));
            continue;
        }
        let spread = larger(metric.spread(before), metric.spread(after));
        let Some((change, verdict)) =
            rule::judge(old, new, spread, section.threshold, metric.better())
        else {
            section
                .not_compared
                .push(unknown(metric.name(), "0 in the baseline run"));
            continue;
        };
        section.comparisons.push(Comparison {
            target: target.to_string(),
            scenario: key.to_string(),
            metric: metric.name().to_string(),
            before: Some(old),
            after: Some(new),
            change: Some(change),
            spread,
            verdict,
        });
    }
    compare_capacity(target, before, after, section);
}

/// The capacities of a scenario, where either run searched one.
fn compare_capacity(
    target: &str,
    before: &ScenarioIn,
    after: &ScenarioIn,
    section: &mut BaselineSection,
) {
    let key = after.scenario.as_str();
    let unknown = |reason: &str| NotCompared {
        target: target.to_string(),
        scenario: Some(key.to_string()),
        metric: Some(CAPACITY.to_string()),
        reason: reason.to_string(),
    };
    match (before.capacity_span(), after.capacity_span()) {
        (None, None) => {}
        (Some(_), None) => section
            .not_compared
            .push(unknown("searched in the baseline run only")),
        (None, Some(_)) => section
            .not_compared
            .push(unknown("searched in this run only")),
        (Some(old), Some(new)) => {
            let Some(verdict) = rule::judge_capacity(old, new, section.threshold) else {
                section.not_compared.push(unknown(
                    "the probes do not tell which is higher (a \"≥ N/s\" or \"none held\" overlaps the other)",
                ));
                return;
            };
            let rate = |scenario: &ScenarioIn| {
                scenario
                    .capacity
                    .as_ref()
                    .and_then(|capacity| capacity.rate_rps)
                    .filter(|rate| *rate > 0.0)
            };
            let (old_rate, new_rate) = (rate(before), rate(after));
            section.comparisons.push(Comparison {
                target: target.to_string(),
                scenario: key.to_string(),
                metric: CAPACITY.to_string(),
                before: old_rate,
                after: new_rate,
                change: old_rate
                    .zip(new_rate)
                    .and_then(|(old, new)| rule::change(old, new)),
                spread: larger(old.spread(), new.spread()),
                verdict,
            });
        }
    }
}

/// The larger of two spreads, either of which may be unknown (a run of one round has none).
fn larger(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// How the runs were made differently: what a reader must weigh before trusting a change.
fn differences(earlier: &RunIn, now: &RunIn) -> Vec<String> {
    let mut notes = Vec::new();
    let show = |value: Option<&Value>| match value {
        None | Some(Value::Null) => "—".to_string(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
    };
    // Compared as they read: a version 2 file wrote `"20"` where version 3 writes `20`.
    let mut differ = |what: &str, old: Option<&Value>, new: Option<&Value>| {
        if show(old) != show(new) {
            notes.push(format!("{what}: {} → {}", show(old), show(new)));
        }
    };
    for key in [
        "duration_s",
        "warmup_s",
        "rounds",
        "capacity_probes",
        "probe_duration_s",
    ] {
        differ(
            &format!("settings.{key}"),
            earlier.settings.get(key),
            now.settings.get(key),
        );
    }
    let mut vars: Vec<&String> = earlier.lab.vars.keys().chain(now.lab.vars.keys()).collect();
    vars.sort();
    vars.dedup();
    for key in vars {
        differ(
            &format!("vars.{key}"),
            earlier.lab.vars.get(key),
            now.lab.vars.get(key),
        );
    }
    let text = |value: &Option<String>| value.clone().map(Value::String);
    differ(
        "lab",
        text(&earlier.lab.name).as_ref(),
        text(&now.lab.name).as_ref(),
    );
    differ(
        "machine",
        text(&earlier.machine).as_ref(),
        text(&now.machine).as_ref(),
    );
    let number = |value: Option<u64>| value.map(Value::from);
    differ(
        "cores",
        number(earlier.cores).as_ref(),
        number(now.cores).as_ref(),
    );
    if earlier.complete == Some(false) {
        notes.push(format!(
            "the baseline run did not finish ({}): what it lacks is not compared",
            earlier.failure.as_deref().unwrap_or("no reason recorded")
        ));
    }
    if earlier
        .schema_version
        .is_some_and(|version| version > u64::from(crate::compare::compare_json::SCHEMA_VERSION))
    {
        notes.push(
            "the baseline was written by a newer ferry: its figures were read as far as this one knows them"
                .into(),
        );
    }
    notes
}
