//! From measured capacity to instances: how many of each target a load needs, and the
//! consolidation ratio against the baseline; gathered in the report's one `cost` section.

use super::report::{CompareReport, CostScenario, CostSection, CostTarget};

/// Instances needed for `target_rps` when one sustains `capacity_rps` (at least one).
pub fn instances(target_rps: f64, capacity_rps: Option<f64>) -> Option<u64> {
    let capacity = capacity_rps.filter(|capacity| *capacity > 0.0)?;
    Some(((target_rps / capacity).ceil() as u64).max(1))
}

/// Baseline instances per instance of a target, for the same load.
pub fn consolidation_ratio(baseline: Option<u64>, target: Option<u64>) -> Option<f64> {
    match (baseline, target) {
        (Some(baseline), Some(target)) if target > 0 => Some(baseline as f64 / target as f64),
        _ => None,
    }
}

/// The `cost` section from the capacities in `report`.
pub fn section(report: &CompareReport, target_rps: f64) -> CostSection {
    let baseline = report.baseline();
    let mut scenarios = Vec::new();
    for (key, _) in report.scenario_keys() {
        let capacity_of = |name: &str| {
            report
                .target(name)
                .and_then(|target| target.scenario(&key))
                .and_then(|scenario| scenario.capacity.as_ref())
        };
        if !report
            .targets
            .iter()
            .any(|t| capacity_of(&t.name).is_some())
        {
            continue;
        }
        let baseline_instances = baseline
            .and_then(|b| capacity_of(&b.name))
            .and_then(|c| instances(target_rps, c.rate_rps));
        let targets = report
            .targets
            .iter()
            .map(|target| {
                let capacity = capacity_of(&target.name);
                let at = capacity.and_then(|c| c.at_capacity());
                let count = capacity.and_then(|c| instances(target_rps, c.rate_rps));
                CostTarget {
                    name: target.name.clone(),
                    capacity_rps: capacity.and_then(|c| c.rate_rps),
                    instances: count,
                    consolidation_ratio: consolidation_ratio(baseline_instances, count),
                    cpu_at_capacity_percent: at.map(|probe| probe.cpu_mean_percent),
                    rss_at_capacity_bytes: at.map(|probe| probe.rss_peak_bytes),
                }
            })
            .collect();
        scenarios.push(CostScenario {
            scenario: key,
            targets,
        });
    }
    CostSection {
        target_rps,
        baseline: baseline.map(|b| b.name.clone()),
        scenarios,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_round_up_and_ratio_divides() {
        assert_eq!(instances(10_000.0, Some(3_000.0)), Some(4));
        assert_eq!(instances(10_000.0, Some(20_000.0)), Some(1));
        assert_eq!(instances(10_000.0, None), None);
        assert_eq!(instances(10_000.0, Some(0.0)), None);
        assert_eq!(consolidation_ratio(Some(4), Some(1)), Some(4.0));
        assert_eq!(consolidation_ratio(None, Some(1)), None);
    }
}
