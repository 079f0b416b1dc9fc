//! Pass/fail bounds for CI: `--slo 'p99<5ms,errors<0.1%'`.

use anyhow::{Context, Result, bail};

use crate::load::RunResult;
use crate::units::{format_micros, parse_duration};

/// One bound, such as `p99<5ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    /// As written.
    pub text: String,
    metric: Metric,
    comparison: Comparison,
    limit: Limit,
}

#[derive(Debug, Clone, PartialEq)]
enum Metric {
    /// A corrected-latency percentile (`p99`), or with `service_` a service-time one.
    Latency {
        name: String,
        service: bool,
    },
    Errors,
    Late,
    Dropped,
    Throughput,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Comparison {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Limit {
    Micros(f64),
    /// A fraction of the requests (written as a percentage).
    Ratio(f64),
    Count(f64),
}

/// How a bound fared.
#[derive(Debug, Clone, PartialEq)]
pub struct BoundOutcome {
    pub bound: String,
    /// The measured value, printed in the bound's unit.
    pub actual: String,
    pub passed: bool,
}

/// Parses a comma-separated list of bounds.
pub fn parse(text: &str) -> Result<Vec<Bound>> {
    text.split(',')
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(parse_bound)
        .collect()
}

fn parse_bound(text: &str) -> Result<Bound> {
    let operators = [
        ("<=", Comparison::LessOrEqual),
        (">=", Comparison::GreaterOrEqual),
        ("<", Comparison::Less),
        (">", Comparison::Greater),
    ];
    let (position, operator, comparison) = operators
        .iter()
        .filter_map(|(operator, comparison)| {
            text.find(operator)
                .map(|position| (position, *operator, *comparison))
        })
        .min_by_key(|(position, operator, _)| (*position, std::cmp::Reverse(operator.len())))
        .with_context(|| format!("`{text}` has no comparison: write it like `p99<5ms`"))?;
    let name = text[..position].trim().to_ascii_lowercase();
    let value = text[position + operator.len()..].trim();
    let metric = match name.as_str() {
        "errors" | "error" | "error_rate" => Metric::Errors,
        "late" => Metric::Late,
        "dropped" => Metric::Dropped,
        "rps" | "throughput" => Metric::Throughput,
        other => {
            let (service, percentile) = match other.strip_prefix("service_") {
                Some(percentile) => (true, percentile),
                None => (false, other),
            };
            if crate::load::result::Percentiles::default()
                .get(percentile)
                .is_none()
            {
                bail!(
                    "unknown metric `{other}` in `{text}`: use p50, p75, p90, p99, p99.9, max, \
                     mean (or service_p99, ...), errors, late, dropped or rps"
                );
            }
            Metric::Latency {
                name: percentile.to_string(),
                service,
            }
        }
    };
    let limit = match &metric {
        Metric::Latency { .. } => Limit::Micros(parse_duration(value)?.as_secs_f64() * 1e6),
        Metric::Throughput => Limit::Count(
            value
                .trim_end_matches("/s")
                .parse()
                .with_context(|| format!("`{value}` is not a rate in `{text}`"))?,
        ),
        Metric::Errors | Metric::Late | Metric::Dropped => match value.strip_suffix('%') {
            Some(percent) => Limit::Ratio(
                percent
                    .trim()
                    .parse::<f64>()
                    .with_context(|| format!("`{value}` is not a percentage in `{text}`"))?
                    / 100.0,
            ),
            None => Limit::Count(
                value
                    .parse()
                    .with_context(|| format!("`{value}` is not a count in `{text}`"))?,
            ),
        },
    };
    Ok(Bound {
        text: text.to_string(),
        metric,
        comparison,
        limit,
    })
}

impl Bound {
    /// Checks the bound against a run.
    pub fn evaluate(&self, result: &RunResult) -> BoundOutcome {
        let totals = &result.totals;
        let share = |count: u64, of: u64| {
            if of == 0 {
                0.0
            } else {
                count as f64 / of as f64
            }
        };
        let attempted = totals.requests + totals.dropped;
        let actual = match &self.metric {
            Metric::Latency { name, service } => {
                let percentiles = if *service {
                    &result.latency.service
                } else {
                    &result.latency.corrected
                };
                percentiles.get(name).unwrap_or(f64::NAN)
            }
            Metric::Errors => self.count_or_ratio(totals.error_count, totals.requests, share),
            Metric::Late => self.count_or_ratio(totals.late, attempted, share),
            Metric::Dropped => self.count_or_ratio(totals.dropped, attempted, share),
            Metric::Throughput => totals.throughput_rps,
        };
        let limit = match self.limit {
            Limit::Micros(value) | Limit::Ratio(value) | Limit::Count(value) => value,
        };
        let passed = match self.comparison {
            Comparison::Less => actual < limit,
            Comparison::LessOrEqual => actual <= limit,
            Comparison::Greater => actual > limit,
            Comparison::GreaterOrEqual => actual >= limit,
        };
        let actual = match self.limit {
            Limit::Micros(_) => format_micros(actual),
            Limit::Ratio(_) => format!("{:.3}%", actual * 100.0),
            Limit::Count(_) => format!("{actual:.0}"),
        };
        BoundOutcome {
            bound: self.text.clone(),
            actual,
            passed,
        }
    }

    fn count_or_ratio(&self, count: u64, of: u64, share: impl Fn(u64, u64) -> f64) -> f64 {
        match self.limit {
            Limit::Ratio(_) => share(count, of),
            _ => count as f64,
        }
    }
}

/// Checks every bound.
pub fn evaluate(bounds: &[Bound], result: &RunResult) -> Vec<BoundOutcome> {
    bounds.iter().map(|bound| bound.evaluate(result)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_parse() {
        let bounds =
            parse("p99<5ms, errors<0.1%, rps>=1000, service_p99.9<=1s, dropped<1").unwrap();
        assert_eq!(bounds.len(), 5);
        assert_eq!(bounds[0].limit, Limit::Micros(5000.0));
        assert!(matches!(bounds[1].limit, Limit::Ratio(ratio) if (ratio - 0.001).abs() < 1e-12));
        assert_eq!(bounds[2].comparison, Comparison::GreaterOrEqual);
        assert!(parse("p98<5ms").is_err());
        assert!(parse("p99 5ms").is_err());
    }
}
