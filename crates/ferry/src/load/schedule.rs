//! Rate schedules for the open model: when each request is *meant* to start.
//!
//! A schedule is a list of segments, each holding a rate (constant, or ramping linearly from
//! one rate to another) for a duration. The intended start time of request `i` is the moment
//! the schedule's cumulative request count reaches `i`, computed in closed form, so the number
//! of requests a run sends is exactly the integral of the schedule over the run, whatever the
//! timer's granularity.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::units::{parse_duration, parse_rate};

/// One stretch of the schedule: the rate goes linearly from `start_rate` to `end_rate`
/// (equal for a constant step) over `seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    pub start_rate: f64,
    pub end_rate: f64,
    pub seconds: f64,
}

impl Segment {
    /// Requests the segment holds: the area under its rate line.
    fn requests(&self) -> f64 {
        (self.start_rate + self.end_rate) / 2.0 * self.seconds
    }

    /// Time into the segment at which its cumulative count reaches `count`
    /// (`count` is less than `self.requests()`).
    fn time_of(&self, count: f64) -> f64 {
        // N(t) = a·t + k·t² with k = (b − a) / 2d; the root is written as 2n / (a + √(a² + 4kn))
        // so that it stays exact for constant segments (k = 0) and for falling ramps (k < 0).
        if count <= 0.0 {
            return 0.0;
        }
        let a = self.start_rate;
        let k = (self.end_rate - self.start_rate) / (2.0 * self.seconds);
        let discriminant = (a * a + 4.0 * k * count).max(0.0);
        let denominator = a + discriminant.sqrt();
        if denominator <= 0.0 {
            return self.seconds;
        }
        (2.0 * count / denominator).min(self.seconds)
    }

    fn rate_at(&self, seconds: f64) -> f64 {
        self.start_rate + (self.end_rate - self.start_rate) * (seconds / self.seconds)
    }
}

/// A rate schedule: segments played once (the last rate then holds), or cycled forever
/// (spikes).
#[derive(Debug, Clone, PartialEq)]
pub struct RateSchedule {
    segments: Vec<Segment>,
    cycles: bool,
    /// Set when the last segment had no duration of its own: it lasts as long as the run.
    open_ended: bool,
    text: String,
}

impl RateSchedule {
    /// A constant rate for the whole run.
    pub fn constant(rate: f64) -> Self {
        RateSchedule {
            segments: vec![Segment {
                start_rate: rate,
                end_rate: rate,
                seconds: f64::INFINITY,
            }],
            cycles: false,
            open_ended: true,
            text: format!("{rate}/s"),
        }
    }

    /// Parses the `--rate` syntax:
    /// - `2000` or `2000/s`: constant;
    /// - `100/s:60s,500/s:30s`: steps, each held for its duration (the last one holds on if the
    ///   run is longer);
    /// - `100/s->1000/s:60s`: a linear ramp, which can be mixed with steps in the same list;
    /// - `spikes:200/s,2000/s,10s,1s`: a base rate with a spike to the peak rate lasting the
    ///   last duration at the end of every period of the third.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if let Some(spec) = text.strip_prefix("spikes:") {
            return Self::parse_spikes(text, spec);
        }
        let parts: Vec<&str> = text.split(',').map(str::trim).collect();
        let mut segments = Vec::with_capacity(parts.len());
        let mut open_ended = false;
        for (index, part) in parts.iter().enumerate() {
            let (rates, duration) = match part.rsplit_once(':') {
                Some((rates, duration)) => (rates, Some(parse_duration(duration)?)),
                None => (*part, None),
            };
            let (start_rate, end_rate) = match rates.split_once("->") {
                Some((from, to)) => (parse_rate(from)?, parse_rate(to)?),
                None => {
                    let rate = parse_rate(rates)?;
                    (rate, rate)
                }
            };
            let seconds = match duration {
                Some(duration) => duration.as_secs_f64(),
                None if index + 1 == parts.len() && start_rate == end_rate => {
                    open_ended = true;
                    f64::INFINITY
                }
                None => bail!(
                    "segment `{part}` of rate schedule `{text}` needs a duration, as in `{part}:30s` \
                     (only a constant last segment may run to the end of the run)"
                ),
            };
            if seconds <= 0.0 {
                bail!("segment `{part}` of rate schedule `{text}` has no duration");
            }
            segments.push(Segment {
                start_rate,
                end_rate,
                seconds,
            });
        }
        Ok(RateSchedule {
            segments,
            cycles: false,
            open_ended,
            text: text.to_string(),
        })
    }

    fn parse_spikes(text: &str, spec: &str) -> Result<Self> {
        let fields: Vec<&str> = spec.split(',').map(str::trim).collect();
        let [base, peak, every, width] = fields[..] else {
            bail!(
                "`{text}`: spikes take four fields, as in `spikes:200/s,2000/s,10s,1s` (base, peak, every, spike length)"
            );
        };
        let base = parse_rate(base)?;
        let peak = parse_rate(peak)?;
        let every = parse_duration(every).context("spike period")?.as_secs_f64();
        let width = parse_duration(width).context("spike length")?.as_secs_f64();
        if width <= 0.0 || width >= every {
            bail!("`{text}`: the spike must be shorter than its period and longer than zero");
        }
        Ok(RateSchedule {
            segments: vec![
                Segment {
                    start_rate: base,
                    end_rate: base,
                    seconds: every - width,
                },
                Segment {
                    start_rate: peak,
                    end_rate: peak,
                    seconds: width,
                },
            ],
            cycles: true,
            open_ended: false,
            text: text.to_string(),
        })
    }

    /// The run length the schedule implies when `-d` is not given: the sum of its steps, or
    /// none for a constant or cycling schedule.
    pub fn natural_duration(&self) -> Option<Duration> {
        if self.cycles || self.open_ended {
            return None;
        }
        Some(Duration::from_secs_f64(
            self.segments.iter().map(|segment| segment.seconds).sum(),
        ))
    }

    /// The rate the schedule starts at; the warm-up runs at this rate.
    pub fn initial_rate(&self) -> f64 {
        self.segments
            .first()
            .map_or(0.0, |segment| segment.start_rate)
    }

    /// The highest rate anywhere in the schedule.
    pub fn peak_rate(&self) -> f64 {
        self.segments
            .iter()
            .map(|segment| segment.start_rate.max(segment.end_rate))
            .fold(0.0, f64::max)
    }

    /// The intended rate at `seconds` into the schedule.
    pub fn rate_at(&self, seconds: f64) -> f64 {
        let mut elapsed = if self.cycles {
            seconds % self.period()
        } else {
            seconds
        };
        for segment in &self.segments {
            if elapsed < segment.seconds {
                return segment.rate_at(elapsed);
            }
            elapsed -= segment.seconds;
        }
        self.segments.last().map_or(0.0, |segment| segment.end_rate)
    }

    /// Requests the schedule intends to start in the first `seconds`.
    pub fn requests_before(&self, seconds: f64) -> f64 {
        let (mut count, mut remaining) = if self.cycles {
            let cycles = (seconds / self.period()).floor();
            (
                cycles * self.requests_per_cycle(),
                seconds - cycles * self.period(),
            )
        } else {
            (0.0, seconds)
        };
        for segment in &self.segments {
            if remaining <= 0.0 {
                break;
            }
            let within = remaining.min(segment.seconds);
            let partial = Segment {
                start_rate: segment.start_rate,
                end_rate: segment.rate_at(within),
                seconds: within,
            };
            count += partial.requests();
            remaining -= within;
        }
        if remaining > 0.0 {
            count += remaining * self.segments.last().map_or(0.0, |segment| segment.end_rate);
        }
        count
    }

    /// Seconds from the schedule's start at which request `index` (0-based) is meant to start,
    /// or `None` if the schedule never reaches it.
    pub fn intended_offset(&self, index: u64) -> Option<f64> {
        let mut count = index as f64;
        let mut base = 0.0;
        if self.cycles {
            let per_cycle = self.requests_per_cycle();
            if per_cycle <= 0.0 {
                return None;
            }
            let cycles = (count / per_cycle).floor();
            base = cycles * self.period();
            count -= cycles * per_cycle;
        }
        for segment in &self.segments {
            let requests = segment.requests();
            if count < requests {
                return Some(base + segment.time_of(count));
            }
            count -= requests;
            base += segment.seconds;
        }
        let last_rate = self.segments.last().map_or(0.0, |segment| segment.end_rate);
        (last_rate > 0.0).then(|| base + count / last_rate)
    }

    fn period(&self) -> f64 {
        self.segments.iter().map(|segment| segment.seconds).sum()
    }

    fn requests_per_cycle(&self) -> f64 {
        self.segments.iter().map(Segment::requests).sum()
    }
}

impl fmt::Display for RateSchedule {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count_before(schedule: &RateSchedule, seconds: f64) -> u64 {
        (0..)
            .take_while(|&index| {
                schedule
                    .intended_offset(index)
                    .is_some_and(|offset| offset < seconds)
            })
            .count() as u64
    }

    #[test]
    fn constant_rate_places_requests_evenly() {
        let schedule = RateSchedule::parse("2000/s").unwrap();
        assert_eq!(schedule.intended_offset(0), Some(0.0));
        assert_eq!(schedule.intended_offset(1), Some(0.0005));
        assert_eq!(count_before(&schedule, 10.0), 20_000);
        assert_eq!(schedule.natural_duration(), None);
    }

    #[test]
    fn steps_hold_each_rate_for_its_duration() {
        let schedule = RateSchedule::parse("100/s:60s,500/s:30s").unwrap();
        assert_eq!(schedule.natural_duration(), Some(Duration::from_secs(90)));
        assert_eq!(count_before(&schedule, 60.0), 6_000);
        assert_eq!(count_before(&schedule, 90.0), 6_000 + 15_000);
        assert_eq!(schedule.rate_at(61.0), 500.0);
        assert_eq!(schedule.requests_before(90.0), 21_000.0);
    }

    #[test]
    fn linear_ramp_sends_the_area_under_the_line() {
        let schedule = RateSchedule::parse("0/s->1000/s:10s").unwrap();
        // ∫ 100·t dt from 0 to 10 = 5,000.
        assert_eq!(count_before(&schedule, 10.0), 5_000);
        // Half the time holds a quarter of the requests on a ramp from zero.
        assert_eq!(count_before(&schedule, 5.0), 1_250);
        let falling = RateSchedule::parse("1000/s->0/s:10s").unwrap();
        assert_eq!(count_before(&falling, 10.0), 5_000);
    }

    #[test]
    fn spikes_repeat_every_period() {
        let schedule = RateSchedule::parse("spikes:100/s,1000/s,10s,1s").unwrap();
        // Each 10 s period: 9 s at 100/s and 1 s at 1000/s = 1,900 requests.
        assert_eq!(count_before(&schedule, 30.0), 5_700);
        assert_eq!(schedule.rate_at(9.5), 1000.0);
        assert_eq!(schedule.rate_at(10.5), 100.0);
        assert_eq!(schedule.peak_rate(), 1000.0);
    }

    #[test]
    fn malformed_schedules_are_refused() {
        assert!(RateSchedule::parse("100/s,500/s:30s").is_err());
        assert!(RateSchedule::parse("spikes:100/s,1000/s,1s,10s").is_err());
        assert!(RateSchedule::parse("fast").is_err());
    }
}
