//! The live progress line on stderr: elapsed time, current rate, p99 so far, errors.
//! Hidden when stderr is not a terminal, so logs and CI output stay clean.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::collector::Collector;
use crate::units::{format_count, format_micros};

pub struct ProgressLine {
    bar: ProgressBar,
    total: Option<Duration>,
}

impl ProgressLine {
    /// A progress line for a run of `total` (warm-up included), or an open-ended one.
    pub fn new(visible: bool, total: Option<Duration>) -> ProgressLine {
        let target = if visible {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}")
                .expect("the progress template is a constant that indicatif accepts"),
        );
        ProgressLine { bar, total }
    }

    /// Redraws the line from what the collector has merged so far.
    pub fn update(&self, elapsed: Duration, warming_up: bool, collector: &Collector) {
        let clock = match self.total {
            Some(total) => format!(
                "{:>5.1}s/{:.0}s",
                elapsed.as_secs_f64(),
                total.as_secs_f64()
            ),
            None => format!("{:>5.1}s", elapsed.as_secs_f64()),
        };
        let phase = if warming_up { "  warming up" } else { "" };
        let rate = collector
            .latest()
            .map_or_else(|| "-".to_string(), |point| format_count(point.requests));
        let p99 = if collector.corrected.is_empty() {
            "-".to_string()
        } else {
            format_micros(collector.corrected.value_at_quantile(0.99) as f64)
        };
        let tally = &collector.tally;
        self.bar.set_message(format!(
            "{clock}{phase}  rate {rate}/s  p99 {p99}  requests {}  errors {}  late {}  dropped {}",
            format_count(tally.requests),
            format_count(tally.errors.total()),
            format_count(tally.late),
            format_count(tally.dropped),
        ));
        self.bar.tick();
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
