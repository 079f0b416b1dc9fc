//! `ferry cost`: instances and money from a `compare.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;

use ferry::cost::{self, Arch, CompareInput, CostSettings, Prices};

const COST_HELP: &str = "\
Containers: instances = max(min-instances, ceil(peak × (1 + headroom) / capacity at the SLO));
each instance gets the cheapest size in the price file that holds the CPU measured at capacity
and the peak RSS; monthly = instances × (vCPU × vCPU-hour + GB × GB-hour) × 730 h.
Functions: memory = the RSS rounded up to a whole MB (at least 128 MB); duration = CPU time per
request / (memory / 1,769 MB, at most 1); monthly = GB-seconds × price + requests × price,
with the measured cold start billed on --cold-start-share of the invocations.

Price files: docs/prices/aws-2025.toml (us-east-1, built in) and
docs/prices/aws-eu-west-1-2025.toml (eu-west-1, no arm64 Fargate prices: --arch arm64 is
refused, and its arm64/mo column stays empty). Each section carries its region and a full
ISO date (YYYY-MM-DD); every table is printed under the region and date of its prices.

The full manual and the JSON schema: docs/ferry.md, `ferry cost`.";

#[derive(Args)]
#[command(after_long_help = COST_HELP)]
pub struct CostArgs {
    /// A `compare.json` written by `ferry compare`.
    compare_json: PathBuf,
    /// A price file, e.g. docs/prices/aws-eu-west-1-2025.toml [default: the built-in
    /// docs/prices/aws-2025.toml, us-east-1].
    #[arg(long, value_name = "FILE")]
    prices: Option<PathBuf>,
    /// Requests per second the fleet must carry [default: the comparison's --target-rps].
    #[arg(long, value_name = "N")]
    peak_rps: Option<f64>,
    /// The month's mean request rate, for functions [default: the peak].
    #[arg(long, value_name = "N")]
    mean_rps: Option<f64>,
    /// Spare capacity above the peak (0.3 = 30%).
    #[arg(long, default_value_t = 0.3)]
    headroom: f64,
    /// Instances kept however small the load (for availability).
    #[arg(long, default_value_t = 2)]
    min_instances: u64,
    /// Share of function invocations that start cold (0.01 = 1%).
    #[arg(long, default_value_t = 0.01)]
    cold_start_share: f64,
    /// CPU architecture to price.
    #[arg(long, value_enum, default_value_t = Arch::X86)]
    arch: Arch,
    /// Write the cost report as JSON.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
}

pub fn cost(args: CostArgs) -> Result<ExitCode> {
    for (flag, value) in [("--peak-rps", args.peak_rps), ("--mean-rps", args.mean_rps)] {
        if value.is_some_and(|v| !(v.is_finite() && v >= 0.0)) {
            bail!("{flag} must be a non-negative number");
        }
    }
    if !(0.0..=10.0).contains(&args.headroom) {
        bail!("--headroom is a fraction: 0.3 is 30%");
    }
    if !(0.0..=1.0).contains(&args.cold_start_share) {
        bail!("--cold-start-share is a fraction between 0 and 1");
    }
    let (prices, file) = match &args.prices {
        Some(path) => (Prices::load(path)?, path.display().to_string()),
        None => (
            Prices::built_in()?,
            format!("{} (built in)", cost::prices::BUILT_IN_PATH),
        ),
    };
    let input = CompareInput::read(&args.compare_json)?;
    let settings = CostSettings {
        peak_rps: args.peak_rps,
        mean_rps: args.mean_rps,
        headroom: args.headroom,
        min_instances: args.min_instances,
        cold_start_share: args.cold_start_share,
        arch: args.arch,
    };
    let report = cost::price(&input, &prices, &file, &settings)?;
    print!("{}", report.render_text());
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report).context("encoding the cost report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        println!("JSON: {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
