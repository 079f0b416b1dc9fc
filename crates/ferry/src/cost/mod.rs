//! `ferry cost`: from a comparison's measured capacity, CPU, memory and cold start to
//! instances and money, for containers ([`container`]) and functions ([`function`]), from a
//! price file with its sources ([`prices`]).
//!
//! [`price`] is the one computation: `ferry cost` runs it over a `compare.json`, and
//! `ferry compare` over its own report.

pub mod container;
pub mod function;
pub mod input;
pub mod prices;
pub mod report;
pub mod text;

use anyhow::Result;
use serde::Serialize;

pub use input::CompareInput;
pub use prices::{Arch, Prices};
pub use report::{CostReport, ScenarioCost, TargetCost};

/// The peak when neither the command line nor the comparison names one.
pub const DEFAULT_PEAK_RPS: f64 = 10_000.0;

/// How to price.
#[derive(Debug, Clone, PartialEq)]
pub struct CostSettings {
    /// Requests per second the fleet must carry; `None`: the comparison's target, else
    /// [`DEFAULT_PEAK_RPS`].
    pub peak_rps: Option<f64>,
    /// The month's mean, for functions; `None`: the peak (an upper bound).
    pub mean_rps: Option<f64>,
    pub headroom: f64,
    pub min_instances: u64,
    /// Share of function invocations that start cold.
    pub cold_start_share: f64,
    pub arch: Arch,
}

impl Default for CostSettings {
    fn default() -> Self {
        CostSettings {
            peak_rps: None,
            mean_rps: None,
            headroom: 0.3,
            min_instances: 2,
            cold_start_share: 0.01,
            arch: Arch::X86,
        }
    }
}

/// The settings as applied, for the report.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct AppliedSettings {
    pub peak_rps: f64,
    pub mean_rps: f64,
    pub headroom: f64,
    pub min_instances: u64,
    pub cold_start_share: f64,
    pub arch: Arch,
    pub hours_per_month: f64,
}

/// Prices every capacity scenario of the comparison; an error when the price file has no
/// rates for `settings.arch`.
pub fn price(
    input: &CompareInput,
    prices: &Prices,
    prices_file: &str,
    settings: &CostSettings,
) -> Result<CostReport> {
    let record = report::PricesRecord::of(prices, prices_file, settings.arch)?;
    let peak_rps = settings
        .peak_rps
        .or(input.target_rps)
        .unwrap_or(DEFAULT_PEAK_RPS);
    let applied = AppliedSettings {
        peak_rps,
        mean_rps: settings.mean_rps.unwrap_or(peak_rps),
        headroom: settings.headroom,
        min_instances: settings.min_instances,
        cold_start_share: settings.cold_start_share,
        arch: settings.arch,
        hours_per_month: prices.container.hours_per_month,
    };
    let scenarios: Vec<ScenarioCost> = input
        .capacity_scenarios
        .iter()
        .map(|scenario| ScenarioCost {
            scenario: scenario.clone(),
            targets: report::price_scenario(input, scenario, prices, &applied),
        })
        .collect();
    let mut notes = Vec::new();
    if scenarios.is_empty() {
        notes.push("The comparison searched no capacity: there is nothing to price.".into());
    }
    if settings.mean_rps.is_none() {
        notes.push(format!(
            "Functions are priced at the peak ({peak_rps:.0} req/s) all month, an upper bound; pass --mean-rps for the month's mean."
        ));
    }
    for target in &input.targets {
        for scenario in target.scenarios.iter().filter(|s| s.invalid) {
            notes.push(format!(
                "{}'s run of {} is invalid (errors above the SLO's bound): it is not priced.",
                target.name, scenario.scenario
            ));
        }
        for scenario in target.scenarios.iter().filter(|s| s.capacity_at_least) {
            notes.push(format!(
                "{}'s capacity in {} is a lower bound (every probe held the SLO): its instance \
                 count and cost are upper bounds.",
                target.name, scenario.scenario
            ));
        }
    }
    notes.extend(arm64_notes(prices));
    notes.push(
        "Function duration is the measured CPU time per request over the CPU share the memory buys; time spent waiting (on a database) is not in it."
            .into(),
    );
    Ok(CostReport {
        schema_version: report::SCHEMA_VERSION,
        prices: record,
        settings: applied,
        targets: scenarios
            .first()
            .map(|s| s.targets.clone())
            .unwrap_or_default(),
        scenarios,
        notes,
    })
}

/// What the arm64 columns rest on, and which of them the price file cannot fill.
fn arm64_notes(prices: &Prices) -> Vec<String> {
    let mut notes = Vec::new();
    if prices.container.arm64.is_some() || prices.function.arm64.is_some() {
        notes.push(
            "The arm64 columns price the same capacity, CPU and memory at the price file's \
             arm64 rates: they assume an arm64 task serves what this machine measured."
                .into(),
        );
    }
    if prices.container.arm64.is_none() {
        notes.push(
            "The price file has no arm64 container prices ([container.arm64]): arm64 \
             containers are not priced (arm64/mo is \"-\", arm64.monthly_cost null)."
                .into(),
        );
    }
    if prices.function.arm64.is_none() {
        notes.push(
            "The price file has no arm64 function prices ([function.arm64]): arm64 functions \
             are not priced (arm64 fn/mo is \"-\", arm64.function_monthly_cost null)."
                .into(),
        );
    }
    notes
}
