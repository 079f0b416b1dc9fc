//! Functions (Lambda-style): what the same traffic costs billed per request.
//!
//! - memory: the measured RSS rounded up to a whole MB, within the offered range;
//! - CPU share: memory / MB per vCPU (1,769 MB is one vCPU on Lambda), at most one vCPU
//!   for one request (a request runs on one thread);
//! - duration: the measured CPU time per request / that share: the 2-core wall time of the
//!   run is not the duration there, the CPU the request needs is;
//! - init: the measured cold start, billed on the share of invocations that start cold;
//! - monthly cost = GB-seconds × price + requests × price per request.

use serde::Serialize;

use super::prices::{FunctionPrices, FunctionRates};

/// What the run measured for one target in one scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    pub cpu_seconds_per_request: f64,
    pub rss_bytes: f64,
    pub cold_start_seconds: f64,
}

/// The month's traffic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Traffic {
    pub mean_rps: f64,
    /// Share of invocations that start cold: 0.01 is 1%.
    pub cold_start_share: f64,
    pub seconds_per_month: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct FunctionCost {
    pub memory_mb: u32,
    pub vcpu_share: f64,
    pub duration_ms: f64,
    pub init_ms: f64,
    pub requests_per_month: f64,
    pub gb_seconds_per_month: f64,
    pub function_monthly_cost: f64,
}

/// Prices a month; `None` when the RSS is beyond the largest memory size.
pub fn price(
    prices: &FunctionPrices,
    rates: &FunctionRates,
    measured: &Measured,
    traffic: &Traffic,
) -> Option<FunctionCost> {
    let rss_mb = (measured.rss_bytes.max(0.0) / 1_048_576.0).ceil() as u32;
    let memory_mb = rss_mb.max(prices.memory_mb_min);
    if memory_mb > prices.memory_mb_max {
        return None;
    }
    let vcpu_share = (f64::from(memory_mb) / prices.mb_per_vcpu).min(1.0);
    let duration = measured.cpu_seconds_per_request.max(0.0) / vcpu_share;
    let init = if prices.init_billed {
        measured.cold_start_seconds.max(0.0)
    } else {
        0.0
    };
    let requests = traffic.mean_rps.max(0.0) * traffic.seconds_per_month;
    let billed_seconds = requests * (duration + traffic.cold_start_share.clamp(0.0, 1.0) * init);
    let gb_seconds = billed_seconds * f64::from(memory_mb) / 1024.0;
    let cost = gb_seconds * rates.gb_second + requests / 1e6 * prices.requests_per_million;
    Some(FunctionCost {
        memory_mb,
        vcpu_share,
        duration_ms: duration * 1000.0,
        init_ms: init * 1000.0,
        requests_per_month: requests,
        gb_seconds_per_month: gb_seconds,
        function_monthly_cost: cost,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::prices::{Arch, Prices};

    #[test]
    fn a_month_by_hand() {
        let prices = Prices::built_in().unwrap();
        let rates = prices.function_rates(Arch::X86).unwrap();
        // 100 MiB RSS → 128 MB (the minimum); share 128 / 1769 = 0.072357…;
        // 0.5 ms of CPU → 6.91016 ms; 1% of 200 ms init → 2 ms more per request.
        // 10 req/s × 2,628,000 s = 26,280,000 requests.
        // GB-s = 26,280,000 × (0.00691016 + 0.002) × 128 / 1024 = 29,269.86
        let measured = Measured {
            cpu_seconds_per_request: 0.0005,
            rss_bytes: 100.0 * 1_048_576.0,
            cold_start_seconds: 0.2,
        };
        let traffic = Traffic {
            mean_rps: 10.0,
            cold_start_share: 0.01,
            seconds_per_month: 730.0 * 3600.0,
        };
        let cost = price(&prices.function, rates, &measured, &traffic).unwrap();
        assert_eq!(cost.memory_mb, 128);
        let duration = 0.0005 / (128.0 / 1769.0);
        assert!((cost.duration_ms - duration * 1000.0).abs() < 1e-12);
        let gb_seconds = 26_280_000.0 * (duration + 0.002) * 0.125;
        assert!((cost.gb_seconds_per_month - gb_seconds).abs() < 1e-6);
        let expected = gb_seconds * 0.0000166667 + 26.28 * 0.20;
        assert!(
            (cost.function_monthly_cost - expected).abs() < 1e-9,
            "{cost:?}"
        );
        // By hand: 29,269.86 GB-s × 0.0000166667 = 0.48783, plus 26.28 M requests × 0.20 = 5.256: 5.74383.
        assert!(
            (cost.function_monthly_cost - 5.74383).abs() < 1e-5,
            "{cost:?}"
        );
    }

    #[test]
    fn more_memory_buys_cpu_up_to_one_vcpu() {
        let prices = Prices::built_in().unwrap();
        let rates = prices.function_rates(Arch::Arm64).unwrap();
        let traffic = Traffic {
            mean_rps: 1.0,
            cold_start_share: 0.0,
            seconds_per_month: 1.0,
        };
        let at = |mb: f64| {
            price(
                &prices.function,
                rates,
                &Measured {
                    cpu_seconds_per_request: 0.01,
                    rss_bytes: mb * 1_048_576.0,
                    cold_start_seconds: 0.0,
                },
                &traffic,
            )
        };
        // 1,769 MB: one vCPU, so the duration is the CPU time itself.
        assert!((at(1769.0).unwrap().duration_ms - 10.0).abs() < 1e-9);
        assert!((at(4000.0).unwrap().duration_ms - 10.0).abs() < 1e-9);
        // Half of that (884 MB): twice the duration, a little more.
        assert!((at(884.0).unwrap().duration_ms - 10.0 * 1769.0 / 884.0).abs() < 1e-9);
        assert!(at(20_000.0).is_none(), "beyond 10,240 MB");
    }

    #[test]
    fn more_traffic_never_costs_less() {
        let prices = Prices::built_in().unwrap();
        let rates = prices.function_rates(Arch::X86).unwrap();
        let measured = Measured {
            cpu_seconds_per_request: 0.002,
            rss_bytes: 300e6,
            cold_start_seconds: 0.4,
        };
        let mut last = 0.0;
        for rps in [0.0, 1.0, 10.0, 100.0, 1e4, 2e4] {
            let traffic = Traffic {
                mean_rps: rps,
                cold_start_share: 0.05,
                seconds_per_month: 2_628_000.0,
            };
            let cost = price(&prices.function, rates, &measured, &traffic).unwrap();
            assert!(cost.function_monthly_cost >= last);
            last = cost.function_monthly_cost;
        }
    }
}
