//! What cost reads from `compare.json`: per target, its role, cold start and, per capacity
//! scenario, the capacity at the SLO with the CPU and RSS measured there.
//!
//! Read leniently, so that both shapes of the file work: the lab's (a `role` per target,
//! a `capacity` per scenario, probes that sample CPU and RSS) and version 1's (no roles,
//! the first target is the baseline; one `capacity` per target, of `get-user`; probes
//! without CPU or RSS, which are then taken from the scenario's own run).

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::container::Size;
use crate::compare::container::parse_memory;

/// One target's measurements.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetInput {
    pub name: String,
    /// `baseline` or `candidate`.
    pub role: String,
    pub cold_start_seconds: Option<f64>,
    pub scenarios: Vec<ScenarioInput>,
    /// A container target (`targets[].container`): the size it was measured in, which is the
    /// size it is priced at (or the next size up the price file offers).
    pub measured_in: Option<Size>,
}

/// One scenario of one target.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioInput {
    pub scenario: String,
    /// Highest rate that held the SLO; `None`: not searched, or no probe passed.
    pub capacity_rps: Option<f64>,
    /// Was a capacity searched for this scenario?
    pub capacity_searched: bool,
    /// Every probe passed (`bound = "at_least"`): the capacity is a lower bound.
    pub capacity_at_least: bool,
    /// The run was invalid (`valid: false`): nothing of it is priced.
    pub invalid: bool,
    /// CPU of the whole process tree at capacity, in cores.
    pub cpu_cores_at_capacity: Option<f64>,
    pub rss_peak_bytes: Option<f64>,
    pub cpu_seconds_per_request: Option<f64>,
    /// Where the CPU and RSS figures come from, when not from the capacity probes.
    pub basis: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CompareInput {
    /// From the file: the load the lab priced for (`--target-rps`).
    pub target_rps: Option<f64>,
    pub targets: Vec<TargetInput>,
    /// Capacity scenarios in the lab's order.
    pub capacity_scenarios: Vec<String>,
}

/// The newest `compare.json` layout this `ferry cost` reads.
const NEWEST_SCHEMA: u64 = 3;

#[derive(Deserialize)]
struct FileIn {
    #[serde(default)]
    schema_version: Option<u64>,
    #[serde(default)]
    settings: Option<SettingsIn>,
    #[serde(default)]
    target_rps: Option<f64>,
    /// The lab's sizing section, where its `target_rps` lives.
    #[serde(default)]
    cost: Option<SettingsIn>,
    #[serde(default)]
    targets: Vec<TargetIn>,
}

#[derive(Deserialize)]
struct SettingsIn {
    #[serde(default)]
    target_rps: Option<f64>,
}

#[derive(Deserialize)]
struct TargetIn {
    name: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    cold_start: Option<ColdStartIn>,
    #[serde(default)]
    scenarios: Vec<ScenarioIn>,
    #[serde(default)]
    container: Option<ContainerIn>,
    /// Version 1: the capacity of `get-user`.
    #[serde(default)]
    capacity: Option<CapacityIn>,
}

/// `targets[].container`: the limits a container target ran under.
#[derive(Deserialize)]
struct ContainerIn {
    cpus: f64,
    memory: String,
}

#[derive(Deserialize)]
struct ColdStartIn {
    #[serde(default)]
    median_ms: Option<f64>,
}

#[derive(Deserialize)]
struct ScenarioIn {
    scenario: String,
    /// Version 3: false when the run's errors were above the SLO's bound.
    #[serde(default)]
    valid: Option<bool>,
    #[serde(default)]
    summary: Option<SummaryIn>,
    #[serde(default)]
    capacity: Option<CapacityIn>,
}

#[derive(Deserialize)]
struct SummaryIn {
    #[serde(default)]
    throughput_rps: Option<f64>,
    #[serde(default)]
    cpu_mean_percent: Option<f64>,
    #[serde(default)]
    rss_peak_bytes: Option<f64>,
}

#[derive(Deserialize)]
struct CapacityIn {
    #[serde(default)]
    rate_rps: Option<f64>,
    /// Version 3: `exact`, `at_least` or `none`.
    #[serde(default)]
    bound: Option<String>,
    #[serde(default)]
    probes: Vec<ProbeIn>,
}

#[derive(Deserialize)]
struct ProbeIn {
    rate_rps: f64,
    passed: bool,
    #[serde(default)]
    cpu_mean_percent: Option<f64>,
    #[serde(default)]
    rss_peak_bytes: Option<f64>,
}

impl CompareInput {
    pub fn read(path: &Path) -> Result<CompareInput> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        CompareInput::from_json(value).with_context(|| format!("reading {}", path.display()))
    }

    /// From a compare report as JSON (the file, or `ferry compare`'s own report).
    pub fn from_json(value: serde_json::Value) -> Result<CompareInput> {
        let file: FileIn = serde_json::from_value(value)
            .context("not a compare.json: each target needs a name and its scenarios")?;
        if let Some(version) = file.schema_version.filter(|v| *v > NEWEST_SCHEMA) {
            bail!(
                "schema_version {version} is newer than this ferry reads (1 to {NEWEST_SCHEMA}): \
                 use the ferry that wrote it"
            );
        }
        if file.targets.is_empty() {
            bail!("the comparison has no targets");
        }
        let any_role = file.targets.iter().any(|t| t.role.is_some());
        let mut capacity_scenarios: Vec<String> = Vec::new();
        let targets = file
            .targets
            .into_iter()
            .enumerate()
            .map(|(index, target)| {
                let role = match (&target.role, any_role) {
                    (Some(role), _) => role.clone(),
                    // Version 1 lists the baseline (Node) first.
                    (None, false) if index == 0 => "baseline".into(),
                    (None, _) => "candidate".into(),
                };
                let scenarios = scenarios(&target);
                for scenario in scenarios.iter().filter(|s| s.capacity_searched) {
                    if !capacity_scenarios.contains(&scenario.scenario) {
                        capacity_scenarios.push(scenario.scenario.clone());
                    }
                }
                TargetInput {
                    name: target.name.clone(),
                    role,
                    cold_start_seconds: target
                        .cold_start
                        .as_ref()
                        .and_then(|c| c.median_ms)
                        .map(|ms| ms / 1000.0),
                    scenarios,
                    measured_in: target.container.as_ref().and_then(|container| {
                        Some(Size {
                            vcpu: container.cpus,
                            memory_gb: parse_memory(&container.memory)? as f64 / 1_073_741_824.0,
                        })
                    }),
                }
            })
            .collect::<Vec<_>>();
        let baselines = targets.iter().filter(|t| t.role == "baseline").count();
        if baselines != 1 {
            bail!(
                "the comparison has {baselines} targets with role `baseline`; exactly one is needed"
            );
        }
        Ok(CompareInput {
            target_rps: file
                .settings
                .and_then(|s| s.target_rps)
                .or(file.cost.and_then(|c| c.target_rps))
                .or(file.target_rps),
            targets,
            capacity_scenarios,
        })
    }

    pub fn baseline(&self) -> &TargetInput {
        // `from_json` checked there is exactly one.
        self.targets
            .iter()
            .find(|t| t.role == "baseline")
            .unwrap_or(&self.targets[0])
    }
}

fn scenarios(target: &TargetIn) -> Vec<ScenarioInput> {
    // Version 1's one capacity belongs to `get-user` (else the first scenario).
    let legacy_index = target.capacity.as_ref().map(|_| {
        target
            .scenarios
            .iter()
            .position(|s| s.scenario == "get-user")
            .unwrap_or(0)
    });
    target
        .scenarios
        .iter()
        .enumerate()
        .map(|(index, scenario)| {
            let capacity = scenario.capacity.as_ref().or(target
                .capacity
                .as_ref()
                .filter(|_| legacy_index == Some(index)));
            measure(scenario, capacity)
        })
        .collect()
}

fn measure(scenario: &ScenarioIn, capacity: Option<&CapacityIn>) -> ScenarioInput {
    // An invalid run measured the error path: nothing of it is priced.
    let invalid = scenario.valid == Some(false);
    let summary = scenario.summary.as_ref().filter(|_| !invalid);
    let capacity = capacity.filter(|_| !invalid);
    let throughput = summary.and_then(|s| s.throughput_rps).filter(|t| *t > 0.0);
    let summary_cores = summary.and_then(|s| s.cpu_mean_percent).map(|p| p / 100.0);
    let cpu_seconds_per_request = summary_cores
        .zip(throughput)
        .map(|(cores, rps)| cores / rps);
    let capacity_rps = capacity.and_then(|c| c.rate_rps).filter(|r| *r > 0.0);
    // The passing probe at the capacity rate, when the probes sampled CPU and RSS.
    let probe = capacity.and_then(|c| {
        c.probes
            .iter()
            .filter(|p| p.passed && Some(p.rate_rps) == capacity_rps)
            .find(|p| p.cpu_mean_percent.is_some())
    });
    let (cpu_cores_at_capacity, rss_peak_bytes, basis) = match probe {
        Some(probe) => (
            probe.cpu_mean_percent.map(|p| p / 100.0),
            probe.rss_peak_bytes.or(summary.and_then(|s| s.rss_peak_bytes)),
            None,
        ),
        None => (
            cpu_seconds_per_request.zip(capacity_rps).map(|(cpu, rps)| cpu * rps),
            summary.and_then(|s| s.rss_peak_bytes),
            capacity_rps.map(|_| {
                format!(
                    "CPU at capacity scaled from the {} run's CPU per request; RSS its peak (the capacity probes did not sample them)",
                    scenario.scenario
                )
            }),
        ),
    };
    ScenarioInput {
        scenario: scenario.scenario.clone(),
        capacity_rps,
        capacity_searched: capacity.is_some() || (invalid && scenario.capacity.is_some()),
        invalid,
        capacity_at_least: capacity.and_then(|c| c.bound.as_deref()) == Some("at_least"),
        cpu_cores_at_capacity,
        rss_peak_bytes,
        cpu_seconds_per_request,
        basis,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn file(version: u64, valid: bool, bound: &str) -> serde_json::Value {
        let scenario = |rate: Option<f64>| {
            json!({"scenario": "read", "valid": valid,
                   "summary": {"throughput_rps": 100.0, "cpu_mean_percent": 50.0,
                               "rss_peak_bytes": 100_000_000},
                   "capacity": {"rate_rps": rate, "bound": bound, "probes": []}})
        };
        json!({"schema_version": version, "targets": [
            {"name": "old", "role": "baseline", "scenarios": [scenario(Some(100.0))]},
            {"name": "new", "role": "candidate", "scenarios": [scenario(Some(400.0))]}]})
    }

    #[test]
    fn versions_one_to_three_read_and_a_newer_one_is_refused() {
        assert!(CompareInput::from_json(file(3, true, "exact")).is_ok());
        let error = CompareInput::from_json(file(4, true, "exact")).unwrap_err();
        assert!(
            format!("{error:#}").contains("schema_version 4"),
            "{error:#}"
        );
    }

    #[test]
    fn an_invalid_run_is_not_priced_and_a_lower_bound_is_marked() {
        let invalid = CompareInput::from_json(file(3, false, "exact")).unwrap();
        let read = &invalid.targets[1].scenarios[0];
        assert!(read.invalid && read.capacity_searched);
        assert_eq!(
            (read.capacity_rps, read.cpu_seconds_per_request),
            (None, None)
        );
        let at_least = CompareInput::from_json(file(3, true, "at_least")).unwrap();
        assert!(at_least.targets[1].scenarios[0].capacity_at_least);
        // A lower bound is priced, and the cost says its figures are upper bounds.
        let prices = super::super::Prices::built_in().unwrap();
        let cost =
            super::super::price(&at_least, &prices, "built-in", &Default::default()).unwrap();
        let new = &cost.targets[1];
        assert_eq!(new.capacity_rps, Some(400.0));
        assert!(new.monthly_cost.is_some(), "{new:?}");
        assert!(
            cost.notes
                .iter()
                .any(|n| n.contains("new's capacity in read is a lower bound")),
            "{:?}",
            cost.notes
        );
    }
}
