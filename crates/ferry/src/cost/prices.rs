//! The price file (`docs/prices/aws-2025.toml`, built in; `--prices FILE` for another, such
//! as `docs/prices/aws-eu-west-1-2025.toml`): what a vCPU-hour, a GB-hour, a GB-second and a
//! request cost, and the sizes on offer, each section with its provider, region, full ISO
//! date (`YYYY-MM-DD`) and source. The arm64 tables are optional: a source without them
//! leaves arm64 unpriced, never guessed.

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
    /// `None`: the file has no arm64 prices (`[container.arm64]` absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm64: Option<ContainerRates>,
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
    /// `None`: the file has no arm64 prices (`[function.arm64]` absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arm64: Option<FunctionRates>,
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

    /// Parses and checks: every rate positive, every date a full ISO date, the sizes sorted
    /// and non-empty.
    pub fn parse(text: &str, origin: &str) -> Result<Prices> {
        // toml's message names the missing or unknown field and its line.
        let prices: Prices =
            toml::from_str(text).with_context(|| format!("reading the price file {origin}"))?;
        let (c, f) = (&prices.container, &prices.function);
        for (field, date) in [("container.date", &c.date), ("function.date", &f.date)] {
            if !is_iso_date(date) {
                bail!(
                    "the price file {origin}: {field} must be a full ISO date (YYYY-MM-DD), not {date:?}"
                );
            }
        }
        let mut rates = vec![
            ("container.x86.vcpu_hour", c.x86.vcpu_hour),
            ("container.x86.gb_hour", c.x86.gb_hour),
            ("container.hours_per_month", c.hours_per_month),
            ("function.x86.gb_second", f.x86.gb_second),
            ("function.requests_per_million", f.requests_per_million),
            ("function.mb_per_vcpu", f.mb_per_vcpu),
        ];
        if let Some(arm64) = &c.arm64 {
            rates.push(("container.arm64.vcpu_hour", arm64.vcpu_hour));
            rates.push(("container.arm64.gb_hour", arm64.gb_hour));
        }
        if let Some(arm64) = &f.arm64 {
            rates.push(("function.arm64.gb_second", arm64.gb_second));
        }
        for (field, value) in rates {
            if !(value.is_finite() && value > 0.0) {
                bail!("the price file {origin}: {field} must be a positive number, not {value}");
            }
        }
        if c.sizes.is_empty()
            || c.sizes
                .iter()
                .any(|size| size.vcpu <= 0.0 || size.memory_gb.is_empty())
        {
            bail!(
                "the price file {origin}: container.sizes needs at least one size, each with a positive vcpu and a memory_gb list"
            );
        }
        if f.memory_mb_min == 0 || f.memory_mb_min > f.memory_mb_max {
            bail!(
                "the price file {origin}: function.memory_mb_min must be positive and at most memory_mb_max"
            );
        }
        Ok(prices)
    }

    /// The tables `arch` is priced from; an error naming the table the file lacks.
    pub fn rates(&self, arch: Arch, origin: &str) -> Result<(&ContainerRates, &FunctionRates)> {
        let missing = |table: &str| {
            anyhow::anyhow!(
                "the price file {origin} has no [{table}] table, so it cannot price arm64; \
                 add the arm64 rates from the provider's price list, or price --arch x86"
            )
        };
        let container = self
            .container_rates(arch)
            .ok_or_else(|| missing("container.arm64"))?;
        let function = self
            .function_rates(arch)
            .ok_or_else(|| missing("function.arm64"))?;
        Ok((container, function))
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

    /// `None`: the file has no rates for `arch`.
    pub fn container_rates(&self, arch: Arch) -> Option<&ContainerRates> {
        match arch {
            Arch::X86 => Some(&self.container.x86),
            Arch::Arm64 => self.container.arm64.as_ref(),
        }
    }

    /// `None`: the file has no rates for `arch`.
    pub fn function_rates(&self, arch: Arch) -> Option<&FunctionRates> {
        match arch {
            Arch::X86 => Some(&self.function.x86),
            Arch::Arm64 => self.function.arm64.as_ref(),
        }
    }
}

/// `YYYY-MM-DD`, four, two and two digits, and a day the calendar has.
fn is_iso_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        })
        && chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EU_WEST_1: &str = include_str!("../../../../docs/prices/aws-eu-west-1-2025.toml");

    #[test]
    fn the_built_in_file_holds_the_published_figures() {
        let prices = Prices::built_in().unwrap();
        let arm64 = prices.container.arm64.as_ref().unwrap();
        assert_eq!(prices.container.x86.vcpu_hour, 0.04048);
        assert_eq!(prices.container.x86.gb_hour, 0.004445);
        assert_eq!(arm64.vcpu_hour, 0.03238);
        assert_eq!(arm64.gb_hour, 0.00356);
        assert_eq!(prices.function.x86.gb_second, 0.0000166667);
        assert_eq!(
            prices.function.arm64.as_ref().unwrap().gb_second,
            0.0000133334
        );
        assert_eq!(prices.function.requests_per_million, 0.20);
        assert_eq!(prices.container.region, "us-east-1");
        assert_eq!(prices.container.date, "2025-08-28");
        assert_eq!(prices.function.date, "2025-10-01");
        assert_eq!(prices.container.sizes.len(), 5);
        assert!(prices.rates(Arch::Arm64, BUILT_IN_PATH).is_ok());
    }

    #[test]
    fn the_eu_west_1_file_has_no_arm64_containers() {
        let prices = Prices::parse(EU_WEST_1, "docs/prices/aws-eu-west-1-2025.toml").unwrap();
        assert_eq!(prices.container.region, "eu-west-1");
        assert_eq!(prices.function.region, "eu-west-1");
        assert_eq!(prices.container.date, "2026-09-11");
        assert_eq!(prices.function.date, "2026-10-01");
        assert_eq!(prices.container.x86.vcpu_hour, 0.04048);
        assert_eq!(prices.container.x86.gb_hour, 0.004445);
        assert!(prices.container.arm64.is_none());
        assert!(prices.container_rates(Arch::Arm64).is_none());
        assert_eq!(prices.function.x86.gb_second, 0.0000166667);
        assert_eq!(
            prices.function.arm64.as_ref().unwrap().gb_second,
            0.0000133334
        );
        assert_eq!(prices.function.requests_per_million, 0.20);
        assert_eq!(prices.container.sizes.len(), 5);
        let error = format!("{:#}", prices.rates(Arch::Arm64, "eu.toml").unwrap_err());
        assert!(
            error.contains("eu.toml") && error.contains("[container.arm64]"),
            "{error}"
        );
        assert!(prices.rates(Arch::X86, "eu.toml").is_ok());
    }

    #[test]
    fn a_missing_function_arm64_table_is_named() {
        let text = BUILT_IN.replace("[function.arm64]\ngb_second = 0.0000133334\n", "");
        let prices = Prices::parse(&text, "test.toml").unwrap();
        assert!(prices.function.arm64.is_none() && prices.container.arm64.is_some());
        let error = format!("{:#}", prices.rates(Arch::Arm64, "test.toml").unwrap_err());
        assert!(error.contains("[function.arm64]"), "{error}");
    }

    #[test]
    fn a_date_must_be_a_full_iso_date() {
        let refused = |from: &str, to: &str, field: &str| {
            let text = BUILT_IN.replacen(from, to, 1);
            assert_ne!(text, BUILT_IN, "{from} is in the file");
            let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
            assert!(
                error.contains(field)
                    && error.contains("test.toml")
                    && error.contains("YYYY-MM-DD"),
                "{error}"
            );
        };
        refused("date = \"2025-08-28\"", "date = \"2025\"", "container.date");
        refused("date = \"2025-10-01\"", "date = \"2025\"", "function.date");
        // Not a day of the calendar.
        refused(
            "date = \"2025-08-28\"",
            "date = \"2025-02-30\"",
            "container.date",
        );
        refused(
            "date = \"2025-10-01\"",
            "date = \"2025-13-01\"",
            "function.date",
        );
        // Not zero-padded, or with a time.
        refused(
            "date = \"2025-08-28\"",
            "date = \"2025-8-28\"",
            "container.date",
        );
        refused(
            "date = \"2025-08-28\"",
            "date = \"2025-08-28T17:27:23Z\"",
            "container.date",
        );
        // A leap day is a date.
        let text = BUILT_IN.replacen("date = \"2025-08-28\"", "date = \"2024-02-29\"", 1);
        assert_eq!(
            Prices::parse(&text, "test.toml").unwrap().container.date,
            "2024-02-29"
        );
    }

    #[test]
    fn a_missing_field_is_named() {
        let text = BUILT_IN.replace("gb_second = 0.0000133334\n", "");
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(
            error.contains("gb_second") && error.contains("test.toml"),
            "{error}"
        );
        let text = BUILT_IN.replacen("date = \"2025-10-01\"\n", "", 1);
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(error.contains("date"), "{error}");
        let text = BUILT_IN.replacen(
            "source = \"https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AWSLambda/current/us-east-1/index.json\"\n",
            "",
            1,
        );
        assert_ne!(text, BUILT_IN);
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(error.contains("source"), "{error}");
        let text = BUILT_IN.replace("vcpu_hour = 0.04048", "vcpu_hour = -1.0");
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(error.contains("container.x86.vcpu_hour"), "{error}");
        let text = BUILT_IN.replace("vcpu_hour = 0.03238", "vcpu_hour = 0.0");
        let error = format!("{:#}", Prices::parse(&text, "test.toml").unwrap_err());
        assert!(error.contains("container.arm64.vcpu_hour"), "{error}");
    }
}
