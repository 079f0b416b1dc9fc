//! What a person watching sees: one progress bar over the run's steps with the current one
//! named, or plain lines when stderr is not a terminal (CI logs).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::secrets::Mask;

pub struct RunProgress {
    bar: ProgressBar,
    lines: bool,
    /// Secrets never reach the terminal either.
    mask: Mask,
}

impl RunProgress {
    pub fn new(enabled: bool, steps: u64, mask: Mask) -> RunProgress {
        let terminal = enabled && std::io::stderr().is_terminal();
        let bar = if terminal {
            let bar = ProgressBar::new(steps);
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] [{bar:24}] {pos}/{len} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            ProgressBar::hidden()
        };
        RunProgress {
            bar,
            lines: enabled && !terminal,
            mask,
        }
    }

    /// Names the step now running.
    pub fn phase(&self, message: impl Into<String>) {
        let message = self.mask.apply(&message.into());
        if self.lines {
            eprintln!("ferry compare: {message}");
        }
        self.bar.set_message(message);
    }

    /// Marks a step done.
    pub fn advance(&self) {
        self.bar.inc(1);
    }

    /// A line that stays above the bar (a result, a note).
    pub fn note(&self, line: impl AsRef<str>) {
        let line = self.mask.apply(line.as_ref());
        if self.bar.is_hidden() {
            eprintln!("ferry compare: {line}");
        } else {
            self.bar.println(line);
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
