//! The cost section: per target and capacity scenario, containers and functions, savings
//! against the baseline, as JSON (the terminal table is [`super::text`]).

use anyhow::Result;
use serde::Serialize;

use super::AppliedSettings;
use super::container::{self, Fleet, Size};
use super::function::{self, FunctionCost, Measured, Traffic};
use super::input::{CompareInput, ScenarioInput, TargetInput};
use super::prices::{Arch, Prices, Provenance};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CostReport {
    pub schema_version: u32,
    pub prices: PricesRecord,
    pub settings: AppliedSettings,
    /// The first capacity scenario's prices.
    pub targets: Vec<TargetCost>,
    /// One entry per capacity scenario.
    pub scenarios: Vec<ScenarioCost>,
    pub notes: Vec<String>,
}

/// Which prices, from where.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct PricesRecord {
    pub file: String,
    pub name: String,
    pub currency: String,
    pub arch: Arch,
    pub vcpu_hour: f64,
    pub gb_hour: f64,
    pub gb_second: f64,
    pub requests_per_million: f64,
    pub container: Provenance,
    pub function: Provenance,
}

impl PricesRecord {
    /// An error when the file has no rates for `arch`.
    pub fn of(prices: &Prices, file: &str, arch: Arch) -> Result<PricesRecord> {
        let (container, function) = prices.rates(arch, file)?;
        Ok(PricesRecord {
            file: file.to_string(),
            name: prices.name.clone(),
            currency: prices.currency.clone(),
            arch,
            vcpu_hour: container.vcpu_hour,
            gb_hour: container.gb_hour,
            gb_second: function.gb_second,
            requests_per_million: prices.function.requests_per_million,
            container: prices.container_provenance(),
            function: prices.function_provenance(),
        })
    }

    /// Which prices every money figure uses, in a line: "containers: Fargate, Linux,
    /// us-east-1, prices of 2025-08-28 · functions: Lambda, us-east-1, prices of 2025-10-01 ·
    /// USD".
    pub fn basis(&self) -> String {
        let (c, f) = (&self.container, &self.function);
        format!(
            "containers: {}, {}, prices of {} · functions: {}, {}, prices of {} · {}",
            c.product, c.region, c.date, f.product, f.region, f.date, self.currency
        )
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ScenarioCost {
    pub scenario: String,
    pub targets: Vec<TargetCost>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct TargetCost {
    pub name: String,
    pub role: String,
    pub capacity_rps: Option<f64>,
    pub instances: Option<u64>,
    pub size: Option<Size>,
    pub cpu_cores_at_capacity: Option<f64>,
    pub rss_peak_bytes: Option<f64>,
    /// Containers, a month.
    pub monthly_cost: Option<f64>,
    pub yearly_cost: Option<f64>,
    /// Against the baseline (null for the baseline itself).
    pub monthly_saving: Option<f64>,
    pub yearly_saving: Option<f64>,
    /// Baseline instances per instance of this target.
    pub consolidation_ratio: Option<f64>,
    pub function: Option<FunctionCost>,
    /// Functions, a month.
    pub function_monthly_cost: Option<f64>,
    pub function_monthly_saving: Option<f64>,
    /// Why a figure is missing, or what it rests on.
    pub reason: Option<String>,
    /// The same fleet and functions at the price file's arm64 rates, beside whatever
    /// `--arch` priced above; they assume the capacity and CPU measured here. Absent in
    /// reports written before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm64: Option<ArchCost>,
}

/// A target's month at another architecture's rates.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct ArchCost {
    pub monthly_cost: Option<f64>,
    pub function_monthly_cost: Option<f64>,
}

/// Prices every target in one scenario, savings against the baseline.
pub fn price_scenario(
    input: &CompareInput,
    scenario: &str,
    prices: &Prices,
    settings: &AppliedSettings,
) -> Vec<TargetCost> {
    let mut costs: Vec<TargetCost> = input
        .targets
        .iter()
        .map(|target| price_target(target, scenario, prices, settings))
        .collect();
    let baseline_name = &input.baseline().name;
    let Some(baseline) = costs.iter().find(|c| &c.name == baseline_name).cloned() else {
        return costs;
    };
    for cost in costs.iter_mut().filter(|c| &c.name != baseline_name) {
        cost.monthly_saving = baseline
            .monthly_cost
            .zip(cost.monthly_cost)
            .map(|(b, c)| b - c);
        cost.yearly_saving = cost.monthly_saving.map(|m| m * 12.0);
        cost.function_monthly_saving = baseline
            .function_monthly_cost
            .zip(cost.function_monthly_cost)
            .map(|(b, c)| b - c);
    }
    for cost in &mut costs {
        cost.consolidation_ratio = baseline
            .instances
            .zip(cost.instances)
            .map(|(b, c)| b as f64 / c as f64);
    }
    costs
}

fn price_target(
    target: &TargetInput,
    scenario: &str,
    prices: &Prices,
    settings: &AppliedSettings,
) -> TargetCost {
    let mut cost = TargetCost {
        name: target.name.clone(),
        role: target.role.clone(),
        capacity_rps: None,
        instances: None,
        size: None,
        cpu_cores_at_capacity: None,
        rss_peak_bytes: None,
        monthly_cost: None,
        yearly_cost: None,
        monthly_saving: None,
        yearly_saving: None,
        consolidation_ratio: None,
        function: None,
        function_monthly_cost: None,
        function_monthly_saving: None,
        reason: None,
        arm64: None,
    };
    let Some(measured) = target.scenarios.iter().find(|s| s.scenario == scenario) else {
        cost.reason = Some(format!("{} did not run {scenario}: no cost", target.name));
        return cost;
    };
    cost.capacity_rps = measured.capacity_rps;
    cost.cpu_cores_at_capacity = measured.cpu_cores_at_capacity;
    cost.rss_peak_bytes = measured.rss_peak_bytes;
    let mut reasons: Vec<String> = measured.basis.iter().cloned().collect();

    price_containers(&mut cost, target, measured, prices, settings, &mut reasons);
    price_functions(&mut cost, target, measured, prices, settings, &mut reasons);
    cost.reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    // The arm64 month beside it; what is missing is missing for the same reasons as above.
    let arm64 = AppliedSettings {
        arch: Arch::Arm64,
        ..settings.clone()
    };
    // A price file without arm64 rates leaves them null, never the other architecture's.
    let mut at_arm64 = TargetCost {
        monthly_cost: None,
        function_monthly_cost: None,
        ..cost.clone()
    };
    let mut ignored = Vec::new();
    price_containers(
        &mut at_arm64,
        target,
        measured,
        prices,
        &arm64,
        &mut ignored,
    );
    price_functions(
        &mut at_arm64,
        target,
        measured,
        prices,
        &arm64,
        &mut ignored,
    );
    cost.arm64 = Some(ArchCost {
        monthly_cost: at_arm64.monthly_cost,
        function_monthly_cost: at_arm64.function_monthly_cost,
    });
    cost
}

/// The container fleet for one scenario's capacity, CPU and RSS.
fn price_containers(
    cost: &mut TargetCost,
    target: &TargetInput,
    measured: &ScenarioInput,
    prices: &Prices,
    settings: &AppliedSettings,
    reasons: &mut Vec<String>,
) {
    let fleet = Fleet {
        peak_rps: settings.peak_rps,
        headroom: settings.headroom,
        min_instances: settings.min_instances,
    };
    let Some(rates) = prices.container_rates(settings.arch) else {
        reasons.push("no container rates for this architecture in the price file".into());
        return;
    };
    match (
        measured.capacity_rps,
        measured.cpu_cores_at_capacity,
        measured.rss_peak_bytes,
    ) {
        (None, _, _) if measured.capacity_searched => {
            reasons.push("no capacity probe held the SLO: no container cost".into());
        }
        (None, _, _) => reasons.push("no capacity was searched: no container cost".into()),
        (Some(_), None, _) | (Some(_), _, None) => {
            reasons.push("no CPU or RSS measured at capacity: no container size".into());
        }
        (Some(capacity), Some(cores), Some(rss)) => {
            cost.instances = container::instances(&fleet, capacity);
            let gb = rss / 1_073_741_824.0;
            let picked = match target.measured_in {
                Some(task) => container::measured_size(&prices.container, rates, task, reasons),
                None => container::size(&prices.container, rates, cores, gb),
            };
            match picked {
                Some(size) => {
                    cost.size = Some(size);
                    cost.monthly_cost = cost
                        .instances
                        .map(|n| container::monthly(&prices.container, rates, n, &size));
                    cost.yearly_cost = cost.monthly_cost.map(|m| m * 12.0);
                }
                None => reasons.push(format!(
                    "{cores:.2} vCPU and {gb:.1} GB is beyond the largest size in the price file: no container cost"
                )),
            }
        }
    }
}

/// The month of functions from the CPU per request, the RSS and the cold start.
fn price_functions(
    cost: &mut TargetCost,
    target: &TargetInput,
    measured: &ScenarioInput,
    prices: &Prices,
    settings: &AppliedSettings,
    reasons: &mut Vec<String>,
) {
    let Some(rates) = prices.function_rates(settings.arch) else {
        reasons.push("no function rates for this architecture in the price file".into());
        return;
    };
    match measured
        .cpu_seconds_per_request
        .zip(measured.rss_peak_bytes)
    {
        Some((cpu, rss)) => {
            if target.cold_start_seconds.is_none() {
                reasons.push("no cold start measured (an attached target): init not billed".into());
            }
            let traffic = Traffic {
                mean_rps: settings.mean_rps,
                cold_start_share: settings.cold_start_share,
                seconds_per_month: settings.hours_per_month * 3600.0,
            };
            let run = Measured {
                cpu_seconds_per_request: cpu,
                rss_bytes: rss,
                cold_start_seconds: target.cold_start_seconds.unwrap_or(0.0),
            };
            cost.function = function::price(&prices.function, rates, &run, &traffic);
            cost.function_monthly_cost = cost.function.map(|f| f.function_monthly_cost);
            if cost.function.is_none() {
                reasons.push(format!(
                    "RSS of {:.0} MB is beyond the largest function memory: no function cost",
                    rss / 1_048_576.0
                ));
            }
        }
        None => reasons.push("no CPU per request measured: no function cost".into()),
    }
}
