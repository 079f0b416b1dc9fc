//! Capacity at an SLO: the highest constant open-model rate a target sustains with p99 under
//! the bound and errors under the ratio, found by bisecting (geometrically, since capacities
//! span orders of magnitude) between a low and a high rate.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::scenarios::RoundRun;

/// A probe must deliver at least this share of the offered rate: a target that silently falls
/// behind (requests dropped or still queued) does not sustain the rate.
const MIN_DELIVERED: f64 = 0.95;

/// One probe of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub rate_rps: f64,
    pub throughput_rps: f64,
    /// p99 of corrected latency (from the intended start).
    pub p99_us: u64,
    /// (errors + dropped sends) / (requests + dropped sends).
    pub error_ratio: f64,
    pub passed: bool,
    /// Mean CPU of the target during the probe's measured part, in % of one core.
    pub cpu_mean_percent: f64,
    /// Peak RSS of the target during the probe.
    pub rss_peak_bytes: u64,
    /// The embedded database's CPU during the probe's measured part; null when not sampled.
    #[serde(default)]
    pub database_cpu_mean_percent: Option<f64>,
    /// The OOM kill of the target's container during the probe (which then failed, whatever
    /// its latency and errors); null when there was none.
    #[serde(default)]
    pub oom_kill: Option<String>,
}

/// What one probe ran: its round, and the OOM kill of the target's container during it.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    pub run: RoundRun,
    pub oom_kill: Option<String>,
}

/// The result of the search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub slo_p99_us: u64,
    pub slo_error_ratio: f64,
    /// The search interval.
    pub low_rps: f64,
    pub high_rps: f64,
    pub probes: Vec<Probe>,
    /// The highest passing rate; `None` when no probe passed ("none held").
    pub rate_rps: Option<f64>,
    /// How far `rate_rps` can be trusted: `exact` (a probe passed and one failed, so the
    /// capacity lies between them), `at_least` (every probe passed: the capacity is this or
    /// more) or `none` (no probe passed, the bottom of the range included).
    pub bound: Bound,
    /// The highest passing probe rate; null when none passed.
    pub bracket_low_rps: Option<f64>,
    /// The lowest failing probe rate; null when none failed.
    pub bracket_high_rps: Option<f64>,
}

/// What the probes of a search tell of the capacity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bound {
    Exact,
    AtLeast,
    None,
}

impl Capacity {
    /// The capacity as a reader should see it: `12,345/s`, `≥ 12,345/s` or `none held`.
    pub fn text(&self) -> String {
        match (self.bound, self.rate_rps) {
            (Bound::Exact, Some(rate)) => super::matrix::rate(rate),
            (Bound::AtLeast, Some(rate)) => format!("≥ {}", super::matrix::rate(rate)),
            _ => "none held".to_string(),
        }
    }

    /// The bracket of the search, `between 8,000/s and 16,000/s`, when it has two ends.
    pub fn bracket_text(&self) -> Option<String> {
        let (low, high) = (self.bracket_low_rps?, self.bracket_high_rps?);
        Some(format!(
            "passed at {}, failed at {}",
            super::matrix::rate(low),
            super::matrix::rate(high)
        ))
    }
}

impl Capacity {
    /// The passing probe at the capacity, for CPU at capacity and its memory.
    pub fn at_capacity(&self) -> Option<&Probe> {
        let rate = self.rate_rps?;
        self.probes
            .iter()
            .find(|probe| probe.passed && probe.rate_rps == rate)
    }
}

/// Whether a probe met the objectives. A probe whose container was OOM-killed fails.
pub fn judge(rate: f64, probe: &ProbeRun, slo_p99_us: u64, slo_error_ratio: f64) -> Probe {
    killed(
        judge_run(rate, &probe.run, slo_p99_us, slo_error_ratio),
        probe.oom_kill.clone(),
    )
}

/// `probe` with the OOM kill of its container, if any: failed then, whatever it measured.
fn killed(mut probe: Probe, oom_kill: Option<String>) -> Probe {
    probe.passed &= oom_kill.is_none();
    probe.oom_kill = oom_kill;
    probe
}

/// Whether a run met the objectives.
fn judge_run(rate: f64, run: &RoundRun, slo_p99_us: u64, slo_error_ratio: f64) -> Probe {
    let result = &run.result;
    let totals = &result.totals;
    let attempted = totals.requests + totals.dropped;
    let error_ratio = if attempted > 0 {
        (totals.error_count + totals.dropped) as f64 / attempted as f64
    } else {
        1.0
    };
    // A flow's rate starts iterations: its p99 and throughput are the iterations'.
    let p99_us = result.unit_latency().p99_us;
    let throughput_rps = result.unit_throughput_rps();
    let passed = attempted > 0
        && p99_us <= slo_p99_us
        && error_ratio < slo_error_ratio
        && throughput_rps >= rate * MIN_DELIVERED;
    Probe {
        rate_rps: rate,
        throughput_rps,
        p99_us,
        error_ratio,
        passed,
        cpu_mean_percent: run.cpu_mean_percent,
        rss_peak_bytes: run.rss_peak_bytes,
        database_cpu_mean_percent: run.database_cpu_mean_percent,
        oom_kill: None,
    }
}

/// Bisects between `low` and `high` with `probes` runs of `probe(rate)`. The last probe goes
/// to an end of the range when every probe so far agreed: to `low` when none passed (a
/// search of one probe included), so that "none held" always includes the bottom of the
/// range, and to `high` when all passed, so that "at least" reaches the top.
pub fn search(
    low: f64,
    high: f64,
    probes: u32,
    slo_p99_us: u64,
    slo_error_ratio: f64,
    mut probe: impl FnMut(f64) -> Result<ProbeRun>,
) -> Result<Capacity> {
    let mut found: Vec<Probe> = Vec::new();
    let (mut passing, mut failing) = (low, high);
    for index in 0..probes {
        let last = index + 1 == probes;
        let passed: Vec<bool> = found.iter().map(|p| p.passed).collect();
        let rate = next_rate(last, &passed, (low, high), (passing, failing));
        let result = probe(rate)?;
        let outcome = judge(rate, &result, slo_p99_us, slo_error_ratio);
        if outcome.passed {
            passing = rate;
        } else {
            failing = rate;
        }
        found.push(outcome);
    }
    Ok(conclude(low, high, slo_p99_us, slo_error_ratio, found))
}

/// The rate of the next probe: the geometric middle of what is known, or an end of the range
/// for the `last` probe: its bottom when none passed so far (none ran, for a search of one
/// probe), its top when every earlier one passed.
fn next_rate(last: bool, passed: &[bool], range: (f64, f64), known: (f64, f64)) -> f64 {
    let all_passed = !passed.is_empty() && passed.iter().all(|p| *p);
    let rate = if last && !passed.contains(&true) {
        range.0
    } else if last && all_passed {
        range.1
    } else {
        (known.0 * known.1).sqrt()
    };
    rate.round().max(1.0)
}

/// The capacity the probes show, with its bound and bracket.
fn conclude(
    low: f64,
    high: f64,
    slo_p99_us: u64,
    slo_error_ratio: f64,
    probes: Vec<Probe>,
) -> Capacity {
    let best = |passed: bool| {
        probes
            .iter()
            .filter(move |p| p.passed == passed)
            .map(|p| p.rate_rps)
    };
    let bracket_low_rps = best(true).reduce(f64::max);
    let bracket_high_rps = best(false).reduce(f64::min);
    let bound = match (bracket_low_rps, bracket_high_rps) {
        (Some(_), Some(_)) => Bound::Exact,
        (Some(_), None) => Bound::AtLeast,
        (None, _) => Bound::None,
    };
    Capacity {
        slo_p99_us,
        slo_error_ratio,
        low_rps: low,
        high_rps: high,
        probes,
        rate_rps: bracket_low_rps,
        bound,
        bracket_low_rps,
        bracket_high_rps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(rate_rps: f64, passed: bool) -> Probe {
        Probe {
            rate_rps,
            throughput_rps: rate_rps,
            p99_us: 1_000,
            error_ratio: 0.0,
            passed,
            cpu_mean_percent: 10.0,
            rss_peak_bytes: 1,
            database_cpu_mean_percent: None,
            oom_kill: None,
        }
    }

    #[test]
    fn a_search_that_only_failed_ends_at_the_bottom_of_its_range() {
        // The --quick case that ended in "met the SLO at no probed rate" after probing only
        // the middle of the range: the last probe now goes to its bottom.
        assert_eq!(
            next_rate(false, &[], (4_273.0, 64_104.0), (4_273.0, 64_104.0)),
            16_550.0
        );
        assert_eq!(
            next_rate(true, &[false], (4_273.0, 64_104.0), (4_273.0, 16_550.0)),
            4_273.0
        );
        // A search of one probe: that probe is the bottom, lest it end in "none held" after
        // probing only the middle.
        assert_eq!(
            next_rate(true, &[], (4_273.0, 64_104.0), (4_273.0, 64_104.0)),
            4_273.0
        );
        assert_eq!(
            next_rate(true, &[true], (10.0, 1_000.0), (100.0, 1_000.0)),
            1_000.0
        );
        assert_eq!(
            next_rate(true, &[true, false], (10.0, 1_000.0), (100.0, 400.0)),
            200.0
        );
    }

    #[test]
    fn the_bound_says_what_the_probes_showed() {
        let exact = conclude(
            10.0,
            1_000.0,
            1,
            0.001,
            vec![probe(100.0, true), probe(400.0, false)],
        );
        assert_eq!((exact.bound, exact.rate_rps), (Bound::Exact, Some(100.0)));
        assert_eq!(
            (exact.bracket_low_rps, exact.bracket_high_rps),
            (Some(100.0), Some(400.0))
        );
        assert_eq!(exact.text(), "100/s");

        let at_least = conclude(
            10.0,
            1_000.0,
            1,
            0.001,
            vec![probe(100.0, true), probe(1_000.0, true)],
        );
        assert_eq!(
            (at_least.bound, at_least.rate_rps),
            (Bound::AtLeast, Some(1_000.0))
        );
        assert_eq!(at_least.bracket_high_rps, None);
        assert_eq!(at_least.text(), "≥ 1,000/s");

        let none = conclude(
            10.0,
            1_000.0,
            1,
            0.001,
            vec![probe(100.0, false), probe(10.0, false)],
        );
        assert_eq!((none.bound, none.rate_rps), (Bound::None, None));
        assert_eq!(
            (none.bracket_low_rps, none.bracket_high_rps),
            (None, Some(10.0))
        );
        assert_eq!(none.text(), "none held");
        assert_eq!(
            serde_json::to_value(none.bound).expect("a bound serialises"),
            serde_json::json!("none")
        );
        assert_eq!(
            serde_json::to_value(Bound::AtLeast).expect("a bound serialises"),
            serde_json::json!("at_least")
        );
    }

    #[test]
    fn an_oom_killed_probe_fails_whatever_it_measured() {
        let reason = "OOM kill: grower ran out of its memory limit (64m)";
        let oom = killed(probe(100.0, true), Some(reason.to_string()));
        assert!(!oom.passed);
        assert_eq!(oom.oom_kill.as_deref(), Some(reason));
        let kept = killed(probe(100.0, true), None);
        assert!(kept.passed);
        assert_eq!(kept.oom_kill, None);
        // The search's bracket counts it failed: an OOM at 100/s above a pass at 10/s.
        let found = conclude(1.0, 1_000.0, 1, 0.001, vec![probe(10.0, true), oom]);
        assert_eq!((found.bound, found.rate_rps), (Bound::Exact, Some(10.0)));
        assert_eq!(found.bracket_high_rps, Some(100.0));
        let json = serde_json::to_value(&found.probes).expect("probes serialise");
        assert_eq!(json[0]["oom_kill"], serde_json::Value::Null);
        assert_eq!(json[1]["oom_kill"], reason);
        assert_eq!(json[1]["passed"], false);
    }
}
