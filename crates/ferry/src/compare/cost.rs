//! From measured capacity to instances: how many of each target a load needs, and the
//! consolidation ratio between them.

/// Instances needed for `target_rps` when one sustains `capacity_rps` (at least one).
pub fn instances(target_rps: f64, capacity_rps: Option<f64>) -> Option<u64> {
    let capacity = capacity_rps.filter(|capacity| *capacity > 0.0)?;
    Some(((target_rps / capacity).ceil() as u64).max(1))
}

/// Node instances per Rust instance for the same load.
pub fn consolidation_ratio(
    node_instances: Option<u64>,
    rust_instances: Option<u64>,
) -> Option<f64> {
    match (node_instances, rust_instances) {
        (Some(node), Some(rust)) if rust > 0 => Some(node as f64 / rust as f64),
        _ => None,
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
