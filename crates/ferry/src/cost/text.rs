//! `ferry cost`'s terminal text (also the cost section of `ferry compare`'s summary): a
//! table per capacity scenario, each under the region and date of the prices it used.

use std::fmt::Write;

use super::prices::Arch;
use super::report::CostReport;

impl CostReport {
    /// Tables per capacity scenario, then the prices used.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let s = &self.settings;
        let _ = writeln!(
            out,
            "Cost at a peak of {:.0} req/s with {:.0}% headroom, at least {} instances; functions at {:.0} req/s mean, {:.1}% cold starts ({}):",
            s.peak_rps,
            s.headroom * 100.0,
            s.min_instances,
            s.mean_rps,
            s.cold_start_share * 100.0,
            match s.arch {
                Arch::X86 => "x86",
                Arch::Arm64 => "arm64",
            }
        );
        let money = |value: Option<f64>| value.map_or("-".to_string(), |v| format!("${v:.2}"));
        for scenario in &self.scenarios {
            let _ = writeln!(out, "\n{}:", scenario.scenario);
            let _ = writeln!(out, "{}", self.prices.basis());
            let _ = writeln!(
                out,
                "{:<16} {:<9} {:>10} {:>9} {:>14} {:>11} {:>11} {:>12} {:>7} {:>12} {:>11} {:>11} {:>12}",
                "target",
                "role",
                "capacity",
                "instances",
                "size",
                "monthly",
                "saving/mo",
                "saving/yr",
                "ratio",
                "function/mo",
                "saving/mo",
                "arm64/mo",
                "arm64 fn/mo"
            );
            for t in &scenario.targets {
                let _ = writeln!(
                    out,
                    "{:<16} {:<9} {:>10} {:>9} {:>14} {:>11} {:>11} {:>12} {:>7} {:>12} {:>11} {:>11} {:>12}",
                    t.name,
                    t.role,
                    t.capacity_rps.map_or("-".into(), |c| format!("{c:.0}/s")),
                    t.instances.map_or("-".into(), |n| n.to_string()),
                    t.size.map_or("-".into(), |z| format!(
                        "{} vCPU {} GB",
                        z.vcpu, z.memory_gb
                    )),
                    money(t.monthly_cost),
                    money(t.monthly_saving),
                    money(t.yearly_saving),
                    t.consolidation_ratio
                        .map_or("-".into(), |r| format!("{r:.2}×")),
                    money(t.function_monthly_cost),
                    money(t.function_monthly_saving),
                    money(t.arm64.as_ref().and_then(|a| a.monthly_cost)),
                    money(t.arm64.as_ref().and_then(|a| a.function_monthly_cost)),
                );
            }
            for t in scenario.targets.iter().filter(|t| t.reason.is_some()) {
                let _ = writeln!(
                    out,
                    "  {}: {}",
                    t.name,
                    t.reason.as_deref().unwrap_or_default()
                );
            }
        }
        let (p, c, f) = (&self.prices, &self.prices.container, &self.prices.function);
        let _ = writeln!(
            out,
            "\nPrices: {}, from {}, in {}; containers: {} {}, {}, prices of {}: ${}/vCPU-hour, ${}/GB-hour ({}); functions: {} {}, {}, prices of {}: ${}/GB-second, ${}/million requests ({}).",
            p.name,
            p.file,
            p.currency,
            c.provider,
            c.product,
            c.region,
            c.date,
            p.vcpu_hour,
            p.gb_hour,
            c.source,
            f.provider,
            f.product,
            f.region,
            f.date,
            p.gb_second,
            p.requests_per_million,
            f.source
        );
        for note in &self.notes {
            let _ = writeln!(out, "Note: {note}");
        }
        out
    }
}
