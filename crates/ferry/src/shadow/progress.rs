//! The replay's progress bar: requests done of all, with the rate, on stderr.

use indicatif::{ProgressBar, ProgressStyle};

pub fn progress_bar(visible: bool, total: u64) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template(
        "shadow {bar:30} {pos}/{len} requests, {per_sec}, eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}
