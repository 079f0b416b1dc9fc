//! The price file (`docs/prices/aws-2025.toml`, built in; `--prices FILE` for another): what
//! a vCPU-hour, a GB-hour, a GB-second and a request cost, and the sizes on offer, each
//! section with its provider, region, date and source.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The built-in file, and the path it is known by in reports.
pub const BUILT_IN: &str = include_str!("../../../../docs/prices/aws-2025.toml");
pub const BUILT_IN_PATH: &str = "docs/prices/aws-2025.toml";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    pub name: String,
    pub currency: String,
    pub container: ContainerPrices,
    pub function: FunctionPrices,
}

/// Who says so, for every number in a section.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct Provenance {
    pub provider: String,
    pub product: String,
    pub region: String,
    pub date: String,
    pub source: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerPrices {
    pub provider: String,
    pub product: String,
    pub region: String,
    pub date: String,
    pub source: String,
    pub hours_per_month: f64,
    pub x86: ContainerRates,
    pub arm64: ContainerRates,
    pub sizes: Vec<ContainerSize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerRates {
    pub vcpu_hour: f64,
    pub gb_hour: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSize {
    pub vcpu: f64,
    pub memory_gb: Vec<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionPrices {
    pub provider: String,
    pub product: String,
    pub region: String,
    pub date: String,
    pub source: String,
    pub requests_per_million: f64,
    pub mb_per_vcpu: f64,
    pub memory_mb_min: u32,
    pub memory_mb_max: u32,
    pub init_billed: bool,
    pub x86: FunctionRates,
    pub arm64: FunctionRates,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionRates {
    pub gb_second: f64,
}

/// CPU architecture priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86,
    Arm64,
}

impl Prices {
    /// The built-in file.
    pub fn built_in() -> Result<Prices> {
        Prices::parse(BUILT_IN, BUILT_IN_PATH)
    }

    pub fn load(path: &Path) -> Result<Prices> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the price file {}", path.display()))?;
        Prices::parse(&text, &path.display().to_string())
    }

    /// Parses and checks: every rate positive, the sizes sorted and non-empty.
    pub fn parse(text: &str, origin: &str) -> Result<Prices> {
        // toml's message names the missing or unknown field and its line.
        let prices: Prices =
            toml::from_str(text).with_context(|| format!("reading the price file {origin}"))?;
        let rates = [
            ("container.x86.vcpu_hour", prices.container.x86.vcpu_hour),
            ("container.x86.gb_hour", prices.container.x86.gb_hour),
            (
                "container.arm64.vcpu_hour",
                prices.container.arm64.vcpu_hour,
            ),
            ("container.arm64.gb_hour", prices.container.arm64.gb_hour),
            (
                "container.hours_per_month",
                prices.container.hours_per_month,
            ),
            ("function.x86.gb_second", prices.function.x86.gb_second),
            ("function.arm64.gb_second", prices.function.arm64.gb_second),
            (
                "function.requests_per_million",
                prices.function.requests_per_million,
            ),
            ("function.mb_per_vcpu", prices.function.mb_per_vcpu),
        ];
        for (field, value) in rates {
            if !(value.is_finite() && value > 0.0) {
                bail!("the price file {origin}: {field} must be a positive number, not {value}");
            }
        }
        if prices.container.sizes.is_empty()
            || prices
                .container
                .sizes
                .iter()
                .any(|size| size.vcpu <= 0.0 || size.memory_gb.is_empty())
        {
            bail!(
                "the price file {origin}: container.sizes needs at least one size, each with a positive vcpu and a memory_gb list"
            );
        }
        if prices.function.memory_mb_min == 0
            || prices.function.memory_mb_min > prices.function.memory_mb_max
        {
            bail!(
                "the price file {origin}: function.memory_mb_min must be positive and at most memory_mb_max"
            );
        }
        Ok(prices)
    }

    pub fn container_provenance(&self) -> Provenance {
        let c = &self.container;
        Provenance {
            provider: c.provider.clone(),
            product: c.product.clone(),
            region: c.region.clone(),
            date: c.date.clone(),
            source: c.source.clone(),
        }
    }

    pub fn function_provenance(&self) -> Provenance {
        let f = &self.function;
        Provenance {
            provider: f.provider.clone(),
            product: f.product.clone(),
            region: f.region.clone(),
            date: f.date.clone(),
            source: f.source.clone(),
        }
    }

    pub fn container_rates(&self, arch: Arch) -> &ContainerRates {
        match arch {
            Arch::X86 => &self.container.x86,
            Arch::Arm64 => &self.container.arm64,
        }
    }

    pub fn function_rates(&self, arch: Arch) -> &FunctionRates {
        match arch {
            Arch::X86 => &self.function.x86,
            Arch::Arm64 => &self.function.arm64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_file_holds_the_published_figures() {
        let prices = Prices::built_in().unwrap();
        assert_eq!(prices.container.x86.vcpu_hour, 0.04048);
        assert_eq!(prices.container.x86.gb_hour, 0.004445);
        assert_eq!(prices.container.arm64.vcpu_hour, 0.03238);
        assert_eq!(prices.container.arm64.gb_hour, 0.00356);
        assert_eq!(prices.function.x86.gb_second, 0.0000166667);
        assert_eq!(prices.function.arm64.gb_second, 0.0000133334);
        assert_eq!(prices.function.requests_per_million, 0.20);
        assert_eq!(prices.container.region, "us-east-1");
        assert_eq!(prices.container.sizes.len(), 5);
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = BUILT_IN.replace("gb_second = 0.0000133334\n", "");
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(
            error.contains("gb_second") && error.contains("test.toml"),
            "{error}"
        );
        let text = BUILT_IN.replacen(
            "source = \"https://aws.amazon.com/lambda/pricing/\"\n",
            "",
            1,
        );
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(error.contains("source"), "{error}");
        let text = BUILT_IN.replace("vcpu_hour = 0.04048", "vcpu_hour = -1.0");
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(error.contains("container.x86.vcpu_hour"), "{error}");
    }
}
