//! Parsing and printing of the quantities ferry's flags and reports speak in:
//! durations (`500ms`, `5s`, `2m`), rates (`2000/s`, `120/m`) and latencies.

use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Parses a duration written as a number with a unit: `250us`, `100ms`, `5s`, `1.5s`, `2m`, `1h`.
/// A bare number means seconds, the unit wrk and hey use.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a duration (try 500ms, 5s, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" | "sec" | "secs" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "ns" => value / 1e9,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => bail!("unknown duration unit `{other}` in `{text}` (use ns, us, ms, s, m or h)"),
    };
    if !seconds.is_finite() || seconds < 0.0 {
        bail!("`{text}` is not a usable duration");
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses a rate in requests per second: `2000`, `2000/s`, `120/m`, `1.5k/s`.
pub fn parse_rate(text: &str) -> Result<f64> {
    let text = text.trim();
    let (number, per) = match text.split_once('/') {
        Some((number, per)) => (number.trim(), per.trim()),
        None => (text, "s"),
    };
    let (number, multiplier) = match number.strip_suffix(['k', 'K']) {
        Some(stripped) => (stripped, 1e3),
        None => (number, 1.0),
    };
    let value: f64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a rate (try 2000/s)"))?;
    let per_second = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 1.0 / 60.0,
        "h" => 1.0 / 3600.0,
        other => bail!("unknown rate unit `/{other}` in `{text}` (use /s, /m or /h)"),
    };
    let rate = value * multiplier * per_second;
    if !rate.is_finite() || rate < 0.0 {
        bail!("`{text}` is not a usable rate");
    }
    Ok(rate)
}

/// Prints a latency held in microseconds with three significant figures and the unit a person
/// would pick: `87µs`, `1.24ms`, `3.10s`.
pub fn format_micros(micros: f64) -> String {
    if micros < 1_000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1_000_000.0 {
        format!("{}ms", three_figures(micros / 1e3))
    } else {
        format!("{}s", three_figures(micros / 1e6))
    }
}

/// Prints a duration given in seconds the way the flags accept it back (`30s`, `1.5s`, `250ms`).
pub fn format_seconds(seconds: f64) -> String {
    if seconds >= 1.0 || seconds == 0.0 {
        let rounded = (seconds * 1000.0).round() / 1000.0;
        format!("{rounded}s")
    } else {
        format!("{}ms", (seconds * 1e3 * 1000.0).round() / 1000.0)
    }
}

/// Prints a count with thousands separators so that 20000 reads as `20,000`.
/// A percentage as people read one: whole above 10 (`100`, `42`), one decimal below
/// (`2.5`, `0.1`), and `<0.1` for what would print as 0 but is not.
pub fn format_percent(percent: f64) -> String {
    if percent >= 9.95 {
        format!("{percent:.0}")
    } else if percent >= 0.05 || percent == 0.0 {
        format!("{percent:.1}")
    } else {
        "<0.1".to_string()
    }
}

pub fn format_count(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn three_figures(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("10").unwrap(), Duration::from_secs(10));
        assert!(parse_duration("5 parsecs").is_err());
    }

    #[test]
    fn rates_parse_with_units() {
        assert_eq!(parse_rate("2000/s").unwrap(), 2000.0);
        assert_eq!(parse_rate("2000").unwrap(), 2000.0);
        assert_eq!(parse_rate("120/m").unwrap(), 2.0);
        assert_eq!(parse_rate("1.5k/s").unwrap(), 1500.0);
    }

    #[test]
    fn latencies_print_in_a_readable_unit() {
        assert_eq!(format_micros(87.0), "87µs");
        assert_eq!(format_micros(1240.0), "1.24ms");
        assert_eq!(format_micros(3_100_000.0), "3.10s");
        assert_eq!(format_count(20000), "20,000");
        assert_eq!(format_count(999), "999");
    }
}
