//! From measured capacity to instances and money: the report's one `cost` section, priced by
//! the same code as `ferry cost` ([`crate::cost::price`]) over the report itself, with
//! `ferry cost`'s defaults and the peak = `--target-rps`.

use anyhow::{Context, Result};

use super::compare_json::{CompareReport, CostScenario, CostSection, CostTarget};
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
    let priced = cost::price(&input, &prices, &file, &settings)?;
    let scenarios: Vec<CostScenario> = priced
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
    let mut notes = priced.notes;
    notes.extend(database_note(report, &scenarios));
    Ok(CostSection {
        target_rps,
        baseline: report.baseline().map(|b| b.name.clone()),
        scenarios,
        prices: Some(priced.prices),
        settings: Some(priced.settings),
        notes,
    })
}

/// Which CPU the prices use: the targets' own, since that is what runs in the priced
/// containers and functions. The database's CPU at each capacity, when it was sampled, is
/// given beside it: a database server sized for it is a cost these figures leave out.
fn database_note(report: &CompareReport, scenarios: &[CostScenario]) -> Option<String> {
    report.database.as_ref()?;
    let mut shares = Vec::new();
    for scenario in scenarios {
        let each: Vec<String> = scenario
            .targets
            .iter()
            .filter_map(|t| {
                let probe = report
                    .target(&t.priced.name)?
                    .scenario(&scenario.scenario)?
                    .capacity
                    .as_ref()?
                    .at_capacity()?;
                Some(format!(
                    "{:.0}% of a core for {}",
                    probe.database_cpu_mean_percent?, t.priced.name
                ))
            })
            .collect();
        if !each.is_empty() {
            shares.push(format!("in {}, {}", scenario.scenario, each.join(", ")));
        }
    }
    let base = "CPU in these prices is the targets' own processes (what runs in the priced \
                containers and functions), not the database's";
    let sampled = report.targets.iter().any(|target| {
        target
            .scenarios
            .iter()
            .any(|s| s.summary.database_cpu_mean_percent.is_some())
    });
    Some(if shares.is_empty() && sampled {
        format!(
            "{base}; there is no capacity to give the database's CPU at (the matrix's \
             \"database CPU mean\" has it per scenario)."
        )
    } else if shares.is_empty() {
        format!("{base}; the database's CPU was not sampled (an external server).")
    } else {
        format!(
            "{base}. At capacity the database used {}: a database server sized for that is a \
             cost these figures leave out (the matrix's \"CPU per 1k req/s with database\" \
             compares the work with it).",
            shares.join("; ")
        )
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
