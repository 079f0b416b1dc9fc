//! From measured capacity to instances and money: the report's one `cost` section, priced by
//! the same code as `ferry cost` ([`crate::cost::price`]) over the report itself, with
//! `ferry cost`'s defaults and the peak = `--target-rps`.

use anyhow::{Context, Result};

use super::report::{CompareReport, CostScenario, CostSection, CostTarget};
use crate::cost::{self, CompareInput, CostReport, CostSettings, Prices};

/// The `cost` section from the capacities in `report`, priced with the built-in price file.
pub fn section(report: &CompareReport, target_rps: f64) -> Result<CostSection> {
    let input = CompareInput::from_json(
        serde_json::to_value(report).context("encoding the report for pricing")?,
    )?;
    let prices = Prices::built_in()?;
    let file = format!("{} (built in)", cost::prices::BUILT_IN_PATH);
    let settings = CostSettings {
        peak_rps: Some(target_rps),
        ..CostSettings::default()
    };
    let priced = cost::price(&input, &prices, &file, &settings);
    let scenarios = priced
        .scenarios
        .into_iter()
        .map(|scenario| {
            let targets = scenario
                .targets
                .into_iter()
                .map(|target| {
                    let at = report
                        .target(&target.name)
                        .and_then(|t| t.scenario(&scenario.scenario))
                        .and_then(|s| s.capacity.as_ref())
                        .and_then(|c| c.at_capacity());
                    CostTarget {
                        cpu_at_capacity_percent: at.map(|probe| probe.cpu_mean_percent),
                        rss_at_capacity_bytes: at.map(|probe| probe.rss_peak_bytes),
                        priced: target,
                    }
                })
                .collect();
            CostScenario {
                scenario: scenario.scenario,
                targets,
            }
        })
        .collect();
    Ok(CostSection {
        target_rps,
        baseline: report.baseline().map(|b| b.name.clone()),
        scenarios,
        prices: Some(priced.prices),
        settings: Some(priced.settings),
        notes: priced.notes,
    })
}

/// The section as `ferry cost`'s report, for its terminal text; `None` before pricing.
pub fn as_cost_report(section: &CostSection) -> Option<CostReport> {
    let scenarios: Vec<cost::ScenarioCost> = section
        .scenarios
        .iter()
        .map(|scenario| cost::ScenarioCost {
            scenario: scenario.scenario.clone(),
            targets: scenario.targets.iter().map(|t| t.priced.clone()).collect(),
        })
        .collect();
    Some(CostReport {
        schema_version: cost::report::SCHEMA_VERSION,
        prices: section.prices.clone()?,
        settings: section.settings.clone()?,
        targets: scenarios
            .first()
            .map(|s| s.targets.clone())
            .unwrap_or_default(),
        scenarios,
        notes: section.notes.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_not_yet_priced_has_no_cost_table() {
        let section = CostSection {
            target_rps: 10_000.0,
            ..CostSection::default()
        };
        assert_eq!(as_cost_report(&section), None);
    }

    /// compare prices the report in memory, `ferry cost` prices the file it wrote: the two
    /// agree only if every number reads back as the one written (serde_json's
    /// `float_roundtrip`; without it, this test fails: some numbers come back one unit in the
    /// last place off, and CI once saw the two monthly costs differ in their last digit).
    #[test]
    fn every_number_in_a_report_file_reads_back_exactly() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..100_000 {
            let written = rng.f64() * 10f64.powi(rng.i32(-6..12));
            let text = serde_json::to_string(&written).expect("an f64 that is finite encodes");
            let read: f64 = serde_json::from_str(&text).expect("what serde_json wrote parses");
            assert_eq!(read.to_bits(), written.to_bits(), "{text}");
        }
    }
}
