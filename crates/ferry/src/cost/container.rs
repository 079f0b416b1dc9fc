//! Containers and VMs: how many instances a peak needs, how big each must be, what a month
//! of them costs.
//!
//! - instances = max(min_instances, ⌈peak × (1 + headroom) / capacity at the SLO⌉);
//! - size: the cheapest offered (vCPU, memory) at least the CPU the run measured at capacity
//!   and its peak RSS;
//! - monthly cost = instances × (vCPU × vCPU-hour price + GB × GB-hour price) × hours a month.

use serde::Serialize;

use super::prices::{ContainerPrices, ContainerRates};

/// How the fleet is sized.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fleet {
    pub peak_rps: f64,
    /// Spare capacity kept above the peak: 0.3 is 30%.
    pub headroom: f64,
    pub min_instances: u64,
}

/// One instance's size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Size {
    pub vcpu: f64,
    pub memory_gb: f64,
}

/// Instances for the fleet at `capacity_rps` per instance; `None` without a positive capacity.
pub fn instances(fleet: &Fleet, capacity_rps: f64) -> Option<u64> {
    if !(capacity_rps.is_finite() && capacity_rps > 0.0) {
        return None;
    }
    let needed = (fleet.peak_rps.max(0.0) * (1.0 + fleet.headroom.max(0.0)) / capacity_rps).ceil();
    Some((needed as u64).max(fleet.min_instances).max(1))
}

/// The cheapest offered size with at least `cores` vCPU and `memory_gb` of memory; `None`
/// when nothing offered is that big.
pub fn size(
    prices: &ContainerPrices,
    rates: &ContainerRates,
    cores: f64,
    memory_gb: f64,
) -> Option<Size> {
    prices
        .sizes
        .iter()
        .filter(|size| size.vcpu + 1e-9 >= cores)
        .filter_map(|size| {
            let memory = size
                .memory_gb
                .iter()
                .copied()
                .filter(|gb| *gb + 1e-9 >= memory_gb)
                .fold(f64::INFINITY, f64::min);
            memory.is_finite().then_some(Size {
                vcpu: size.vcpu,
                memory_gb: memory,
            })
        })
        .min_by(|a, b| hourly(rates, a).total_cmp(&hourly(rates, b)))
}

/// A container target is priced at the size it was measured in, never one picked for it:
/// that size, or the next size up where the price file does not offer it (the report says
/// so); `None` when nothing offered is that big.
pub fn measured_size(
    prices: &ContainerPrices,
    rates: &ContainerRates,
    task: Size,
    reasons: &mut Vec<String>,
) -> Option<Size> {
    let text = |size: &Size| format!("{} vCPU / {} GB", size.vcpu, size.memory_gb);
    reasons.push(format!("measured at {}", text(&task)));
    let size = size(prices, rates, task.vcpu, task.memory_gb);
    match size {
        Some(size) if size != task => reasons.push(format!(
            "{} is not a size the price file sells: priced at the next size up, {}",
            text(&task),
            text(&size)
        )),
        // None: the caller says it is beyond the largest size.
        _ => {}
    }
    size
}

/// What one instance of `size` costs an hour.
pub fn hourly(rates: &ContainerRates, size: &Size) -> f64 {
    size.vcpu * rates.vcpu_hour + size.memory_gb * rates.gb_hour
}

/// A month of `instances` of `size`.
pub fn monthly(
    prices: &ContainerPrices,
    rates: &ContainerRates,
    instances: u64,
    size: &Size,
) -> f64 {
    instances as f64 * hourly(rates, size) * prices.hours_per_month
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::prices::{Arch, Prices};

    fn fleet(peak_rps: f64) -> Fleet {
        Fleet {
            peak_rps,
            headroom: 0.3,
            min_instances: 2,
        }
    }

    #[test]
    fn instances_by_hand() {
        // 10,000 × 1.3 / 3,000 = 4.33 → 5.
        assert_eq!(instances(&fleet(10_000.0), 3_000.0), Some(5));
        // 10,000 × 1.3 / 13,000 = 1 → the floor of 2.
        assert_eq!(instances(&fleet(10_000.0), 13_000.0), Some(2));
        // Exactly 4: 12,000 × 1.3 / 3,900 = 4.
        assert_eq!(instances(&fleet(12_000.0), 3_900.0), Some(4));
        assert_eq!(instances(&fleet(10_000.0), 0.0), None);
        assert_eq!(instances(&fleet(10_000.0), f64::NAN), None);
    }

    #[test]
    fn sizes_round_up_to_what_is_offered() {
        let prices = Prices::built_in().unwrap();
        let rates = prices.container_rates(Arch::X86).unwrap();
        let pick = |cores, gb| size(&prices.container, rates, cores, gb);
        assert_eq!(
            pick(0.2, 0.1),
            Some(Size {
                vcpu: 0.25,
                memory_gb: 0.5
            })
        );
        assert_eq!(
            pick(1.9, 0.3),
            Some(Size {
                vcpu: 2.0,
                memory_gb: 4.0
            })
        );
        assert_eq!(
            pick(0.6, 2.5),
            Some(Size {
                vcpu: 1.0,
                memory_gb: 3.0
            })
        );
        // 0.3 cores but 5 GB: 0.5 vCPU offers at most 4 GB, so 1 vCPU with 5 GB.
        assert_eq!(
            pick(0.3, 5.0),
            Some(Size {
                vcpu: 1.0,
                memory_gb: 5.0
            })
        );
        assert_eq!(pick(5.0, 1.0), None);
        assert_eq!(pick(1.0, 31.0), None);
    }

    #[test]
    fn a_container_target_is_priced_at_its_measured_size_or_the_next_one_sold() {
        let prices = Prices::built_in().unwrap();
        let rates = prices.container_rates(Arch::X86).unwrap();
        let mut reasons = Vec::new();
        let task = Size {
            vcpu: 1.0,
            memory_gb: 2.0,
        };
        assert_eq!(
            measured_size(&prices.container, rates, task, &mut reasons),
            Some(task)
        );
        assert_eq!(reasons, ["measured at 1 vCPU / 2 GB"]);
        reasons.clear();
        let unsold = Size {
            vcpu: 0.5,
            memory_gb: 0.5,
        };
        assert_eq!(
            measured_size(&prices.container, rates, unsold, &mut reasons),
            Some(Size {
                vcpu: 0.5,
                memory_gb: 1.0
            })
        );
        assert_eq!(
            reasons,
            [
                "measured at 0.5 vCPU / 0.5 GB",
                "0.5 vCPU / 0.5 GB is not a size the price file sells: priced at the next size \
                 up, 0.5 vCPU / 1 GB"
            ]
        );
    }

    #[test]
    fn a_month_by_hand() {
        let prices = Prices::built_in().unwrap();
        let rates = prices.container_rates(Arch::X86).unwrap();
        // 5 × (2 × 0.04048 + 4 × 0.004445) × 730 = 5 × 0.09874 × 730 = 360.401.
        let cost = monthly(
            &prices.container,
            rates,
            5,
            &Size {
                vcpu: 2.0,
                memory_gb: 4.0,
            },
        );
        assert!((cost - 360.401).abs() < 1e-9, "{cost}");
        let arm = prices.container_rates(Arch::Arm64).unwrap();
        // 2 × (0.5 × 0.03238 + 1 × 0.00356) × 730 = 2 × 0.01975 × 730 = 28.835.
        let cost = monthly(
            &prices.container,
            arm,
            2,
            &Size {
                vcpu: 0.5,
                memory_gb: 1.0,
            },
        );
        assert!((cost - 28.835).abs() < 1e-9, "{cost}");
    }

    #[test]
    fn doubling_the_peak_never_lowers_instances_and_more_capacity_never_needs_more() {
        for capacity in [50.0, 777.0, 3_000.0, 12_345.0, 80_000.0] {
            for peak in [0.0, 1.0, 999.0, 10_000.0, 123_456.0] {
                let now = instances(&fleet(peak), capacity).unwrap();
                assert!(instances(&fleet(peak * 2.0), capacity).unwrap() >= now);
                assert!(instances(&fleet(peak), capacity * 1.5).unwrap() <= now);
            }
        }
    }
}
