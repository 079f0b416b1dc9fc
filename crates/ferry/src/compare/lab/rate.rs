//! A scenario's `rate`: the `ferry load --rate` syntax, where any rate may also be written as
//! a percentage of a throughput measured earlier in the run (`20%`: a fifth of the slowest
//! target's closed-model throughput in the scenario named by `relative_to`). Step lengths are
//! stretched with the scenario's duration, so that `--duration` and `--quick` keep a
//! schedule's shape: `20%:5s,60%:2.5s,20%:5s` in a 5 s scenario run with `--duration 10s`
//! becomes `…:10s,…:5s,…:10s`.

use anyhow::{Context, Result, bail};

use crate::load::RateSchedule;
use crate::units::{parse_duration, parse_rate};

/// Whether `text` holds a relative rate (and so needs a reference throughput).
pub fn is_relative(text: &str) -> bool {
    text.contains('%')
}

/// The schedule text with percentages resolved against `reference` (requests/s) and every
/// step length multiplied by `stretch`; the result parses as a `--rate`.
pub fn resolve(text: &str, reference: Option<f64>, stretch: f64) -> Result<String> {
    let rate = |part: &str| -> Result<String> {
        let part = part.trim();
        match part.strip_suffix('%') {
            Some(percent) => {
                let reference = reference.with_context(|| {
                    format!("`{part}` is relative, and the scenario names no `relative_to`")
                })?;
                let share: f64 = percent
                    .trim()
                    .parse()
                    .with_context(|| format!("`{part}` is not a percentage"))?;
                Ok(format!("{:.0}/s", (reference * share / 100.0).max(1.0)))
            }
            None => Ok(format!("{}/s", parse_rate(part)?)),
        }
    };
    let length = |part: &str| -> Result<String> {
        let seconds = parse_duration(part)?.as_secs_f64() * stretch;
        Ok(format!("{}ms", (seconds * 1000.0).round().max(1.0)))
    };
    let text = text.trim();
    let resolved = if let Some(spec) = text.strip_prefix("spikes:") {
        let fields: Vec<&str> = spec.split(',').collect();
        let [base, peak, every, width] = fields[..] else {
            bail!("`{text}`: spikes take four fields, as in `spikes:200/s,2000/s,10s,1s`");
        };
        format!(
            "spikes:{},{},{},{}",
            rate(base)?,
            rate(peak)?,
            length(every)?,
            length(width)?
        )
    } else {
        let mut steps = Vec::new();
        for part in text.split(',') {
            let (rates, duration) = match part.rsplit_once(':') {
                Some((rates, duration)) => (rates, Some(length(duration)?)),
                None => (part, None),
            };
            let rates = match rates.split_once("->") {
                Some((from, to)) => format!("{}->{}", rate(from)?, rate(to)?),
                None => rate(rates)?,
            };
            steps.push(match duration {
                Some(duration) => format!("{rates}:{duration}"),
                None => rates,
            });
        }
        steps.join(",")
    };
    RateSchedule::parse(&resolved).with_context(|| format!("rate schedule `{text}`"))?;
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_scale_from_the_reference_and_steps_stretch() {
        assert_eq!(
            resolve("20%:5s,60%:2.5s,20%:5s", Some(1000.0), 2.0).unwrap(),
            "200/s:10000ms,600/s:5000ms,200/s:10000ms"
        );
        assert_eq!(
            resolve("100/s->10%:1s", Some(5000.0), 1.0).unwrap(),
            "100/s->500/s:1000ms"
        );
        assert_eq!(resolve("2000", None, 1.0).unwrap(), "2000/s");
        assert_eq!(
            resolve("spikes:10%,50%,10s,1s", Some(1000.0), 0.5).unwrap(),
            "spikes:100/s,500/s,5000ms,500ms"
        );
    }

    #[test]
    fn a_relative_rate_needs_a_reference() {
        let error = resolve("20%:5s", None, 1.0).unwrap_err();
        assert!(format!("{error:#}").contains("relative_to"), "{error:#}");
        assert!(resolve("fast", None, 1.0).is_err());
    }
}
