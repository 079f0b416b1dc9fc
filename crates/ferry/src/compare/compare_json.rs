//! The comparison's results: the `compare.json` document (schema in docs/ferry.md,
//! "compare.json"). Rendering is elsewhere: the matrix ([`super::matrix`]), the verdict
//! ([`super::verdict`]) and the HTML page ([`super::html_report`]).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::capacity::Capacity;
use super::cold_start::ColdStart;
use super::lab::Role;
use super::pgbench::PgbenchResult;
use super::scenarios::{RoundRun, ScenarioSummary};
use crate::cost::report::PricesRecord;
use crate::cost::{AppliedSettings, TargetCost};

/// Version of the compare JSON layout. 2: labs (any targets, `role`, `lab`, `cost`). 3: vars
/// keep their type, scenarios say whether they are `valid`, capacities their `bound`.
pub const SCHEMA_VERSION: u32 = 3;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub schema_version: u32,
    pub ferry_version: String,
    pub started_at_unix_ms: u64,
    pub wall_time_s: f64,
    /// The command as typed.
    pub command: String,
    pub cores: usize,
    /// The host name of the machine ferry (and every started target) ran on.
    pub machine: String,
    /// The shared database, for labs with one.
    pub database: Option<String>,
    pub lab: LabRecord,
    pub settings: RunRecord,
    /// In the lab's order.
    pub targets: Vec<TargetReport>,
    /// Instances for `cost.target_rps` and consolidation ratios, per capacity scenario.
    pub cost: CostSection,
    pub pgbench: Option<PgbenchResult>,
    /// Things a reader must know (the load generator shares the machine, ...).
    pub notes: Vec<String>,
    /// False when a phase failed or the run was interrupted; `failure` says why.
    pub complete: bool,
    pub failure: Option<String>,
    /// `--baseline FILE`: this run against an earlier one; absent without the flag (and in
    /// files written before it existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<super::gate::BaselineSection>,
}

/// The lab's own section: what it is and its values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LabRecord {
    pub name: String,
    pub description: Option<String>,
    pub file: String,
    /// `vars` as used (after `--quick` and `--set`), each with the type it was written with;
    /// a secret's value is `***`.
    pub vars: BTreeMap<String, serde_json::Value>,
    pub slo_p99_ms: f64,
    pub slo_error_ratio: f64,
}

/// How the run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// `--duration` for every scenario; null when each scenario ran its own.
    pub duration_s: Option<f64>,
    pub warmup_s: f64,
    pub rounds: u32,
    pub cold_starts: u32,
    pub capacity_probes: u32,
    pub probe_duration_s: f64,
    /// `--target-rps`: the load the instance counts are for.
    pub target_rps: f64,
    /// `--thorough`: the length of the long run per target, else null.
    pub long_run_s: Option<f64>,
    /// `on` when the databases were put back as setup left them before each run (`[database]
    /// reset`); `off` otherwise, and in reports written before resets existed.
    #[serde(default)]
    pub database_reset: super::reset::ResetSetting,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    pub name: String,
    pub role: Role,
    /// `started` (by ferry), `attached` (running here) or `remote` (running elsewhere).
    pub kind: String,
    /// Where it was reached.
    pub url: Option<String>,
    /// The machine it runs on.
    pub machine: String,
    /// Started targets only: an attached or remote one cannot be restarted.
    pub cold_start: Option<ColdStart>,
    /// `kind = "container"`: the image and limits it ran under, and the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerReport>,
    pub scenarios: Vec<ScenarioReport>,
    /// `--thorough`: one long run of the lab's first scenario.
    pub long_run: Option<RoundRun>,
    /// The first scenario's throughput / pgbench tps.
    pub pgbench_fraction: Option<f64>,
}

/// `targets[].container`: what a container target was measured in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerReport {
    pub image: String,
    pub cpus: f64,
    /// As the lab wrote it: `"2g"`.
    pub memory: String,
    /// `podman` or `docker`.
    pub engine: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// The lab scenario's `name`.
    pub scenario: String,
    pub title: String,
    /// The open model's schedule as run (relative rates resolved), else null.
    pub schedule: Option<String>,
    pub summary: ScenarioSummary,
    pub rounds: Vec<RoundRun>,
    /// Scenarios with `capacity = true`.
    pub capacity: Option<Capacity>,
    /// False when a measured round's error ratio is above the lab's SLO error bound: its
    /// figures measured the error path, and no ratio is drawn from them.
    pub valid: bool,
    /// `"invalid: <P> % <status or error kind>"` of the most frequent error; null when valid.
    pub invalid_reason: Option<String>,
}

impl ScenarioReport {
    /// Judges the scenario by its rounds: invalid when any measured round's
    /// `totals.error_ratio` (errors over requests, dropped sends not counted) is strictly above
    /// `error_bound`. The reason names the worst round's most frequent error.
    pub fn judge_validity(&mut self, error_bound: f64) {
        let worst = self
            .rounds
            .iter()
            .map(|round| &round.result.totals)
            .filter(|totals| totals.error_ratio > error_bound)
            .max_by(|a, b| a.error_ratio.total_cmp(&b.error_ratio));
        self.valid = worst.is_none();
        self.invalid_reason = worst.map(|totals| {
            format!(
                "invalid: {}",
                totals
                    .top_error_text()
                    .unwrap_or_else(|| "errors".to_string())
            )
        });
    }
}

/// Sizing and money from the capacities, priced by [`crate::cost::price`] (what `ferry cost`
/// runs over the file): the one place instance counts live.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSection {
    /// The peak the fleet is sized for (`--target-rps`).
    pub target_rps: f64,
    /// The baseline's name, when it ran.
    pub baseline: Option<String>,
    pub scenarios: Vec<CostScenario>,
    /// The price file used; null until the capacity phase has run.
    pub prices: Option<PricesRecord>,
    /// The pricing settings as applied (`ferry cost`'s defaults, the peak = `target_rps`).
    pub settings: Option<AppliedSettings>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CostScenario {
    pub scenario: String,
    pub targets: Vec<CostTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CostTarget {
    /// `ferry cost`'s figures: name, capacity, instances (max(min_instances, ⌈target_rps ×
    /// (1 + headroom) / capacity⌉)), consolidation ratio, container and function money.
    #[serde(flatten)]
    pub priced: TargetCost,
    /// CPU (% of one core) and peak RSS during the probe at the capacity.
    pub cpu_at_capacity_percent: Option<f64>,
    pub rss_at_capacity_bytes: Option<u64>,
}

impl CompareReport {
    pub fn target(&self, name: &str) -> Option<&TargetReport> {
        self.targets.iter().find(|target| target.name == name)
    }

    pub fn baseline(&self) -> Option<&TargetReport> {
        self.targets
            .iter()
            .find(|target| target.role == Role::Baseline)
    }

    /// The header line of a report in which some target's TLS certificate was not verified
    /// (`insecure`), read from the runs themselves; `None` when every one was (or none was
    /// TLS).
    pub fn insecure_header(&self) -> Option<String> {
        let insecure: Vec<&str> = self
            .targets
            .iter()
            .filter(|target| {
                let runs = target
                    .scenarios
                    .iter()
                    .flat_map(|scenario| &scenario.rounds);
                runs.chain(&target.long_run).any(|run| {
                    let tls = run.result.settings.tls.as_ref();
                    tls.is_some_and(|tls| tls.insecure)
                })
            })
            .map(|target| target.name.as_str())
            .collect();
        (!insecure.is_empty()).then(|| {
            format!(
                "INSECURE: the TLS certificate of {} was not verified (`insecure = true`).",
                insecure.join(", ")
            )
        })
    }

    /// Scenario names and titles in the order they ran.
    pub fn scenario_keys(&self) -> Vec<(String, String)> {
        let mut keys: Vec<(String, String)> = Vec::new();
        for scenario in self.targets.iter().flat_map(|target| &target.scenarios) {
            if !keys.iter().any(|(key, _)| *key == scenario.scenario) {
                keys.push((scenario.scenario.clone(), scenario.title.clone()));
            }
        }
        keys
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("serialising the comparison")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

impl TargetReport {
    pub fn scenario(&self, key: &str) -> Option<&ScenarioReport> {
        self.scenarios
            .iter()
            .find(|scenario| scenario.scenario == key)
    }
}
