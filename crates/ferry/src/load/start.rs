//! `--start-at`: several hosts begin their measured windows at the same wall-clock instant.
//!
//! Each host waits by its own clock, so the common start is as good as the hosts' clock sync
//! (NTP is the user's job); `ferry report --merge` warns when the starts the runs recorded
//! disagree by more than 100 ms.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

/// Longest single sleep while waiting, so that Ctrl-C and clock steps are noticed.
const WAIT_STEP: Duration = Duration::from_millis(50);

/// Parses `--start-at`: Unix seconds (fractions allowed, `1767225600.5`) or an RFC 3339 time
/// (`2026-01-01T00:00:00Z`, `2026-01-01T01:00:00+01:00`).
pub fn parse_start_at(text: &str) -> Result<SystemTime> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        if !seconds.is_finite() || seconds < 0.0 {
            bail!("`{text}` is not a time after 1970");
        }
        return Ok(UNIX_EPOCH + Duration::from_secs_f64(seconds));
    }
    let time = chrono::DateTime::parse_from_rfc3339(text).with_context(|| {
        format!("`{text}` is neither Unix seconds nor an RFC 3339 time (2026-01-01T00:00:00Z)")
    })?;
    Ok(SystemTime::from(time))
}

/// Milliseconds since the Unix epoch of `time` (0 before it).
pub fn unix_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// A run that would begin after its `--start-at` (or too close to it for its warm-up): it
/// measures nothing rather than a window the other parts did not share. `ferry load` exits 6.
#[derive(Debug)]
pub struct StartMissed(pub String);

impl std::fmt::Display for StartMissed {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for StartMissed {}

/// Blocks until `warmup` before `start_at` by this host's clock, so that the measured window
/// begins at `start_at`. Refuses a start already past (or too close for the warm-up), and
/// gives up when `stop` is set.
pub fn wait_for_start(
    start_at: SystemTime,
    warmup: Duration,
    stop: &AtomicBool,
    announce: bool,
) -> Result<()> {
    let now = SystemTime::now();
    let Ok(ahead) = start_at.duration_since(now) else {
        let late = now.duration_since(start_at).unwrap_or_default();
        return Err(StartMissed(format!(
            "--start-at is {:.3} s in the past by this host's clock: this part would not \
             measure the window the others share",
            late.as_secs_f64()
        ))
        .into());
    };
    if ahead < warmup {
        return Err(StartMissed(format!(
            "--start-at is {:.3} s away, less than the {:.3} s warm-up that must run before it",
            ahead.as_secs_f64(),
            warmup.as_secs_f64()
        ))
        .into());
    }
    let begin = start_at - warmup;
    if announce {
        eprintln!(
            "ferry: waiting {:.1} s for the common start (--start-at)",
            (ahead - warmup).as_secs_f64()
        );
    }
    while let Ok(remaining) = begin.duration_since(SystemTime::now()) {
        if remaining.is_zero() {
            break;
        }
        if stop.load(Ordering::Relaxed) {
            bail!("stopped while waiting for --start-at");
        }
        std::thread::sleep(remaining.min(WAIT_STEP));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_parse_as_unix_seconds_or_rfc_3339() {
        let seconds = parse_start_at("1767225600.25").unwrap();
        assert_eq!(unix_ms(seconds), 1_767_225_600_250);
        let utc = parse_start_at("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(unix_ms(utc), 1_767_225_600_000);
        let offset = parse_start_at("2026-01-01T01:00:00.5+01:00").unwrap();
        assert_eq!(unix_ms(offset), 1_767_225_600_500);
        assert!(parse_start_at("tomorrow").is_err());
        assert!(parse_start_at("-5").is_err());
    }

    #[test]
    fn a_start_in_the_past_is_refused() {
        let stop = AtomicBool::new(false);
        let past = SystemTime::now() - Duration::from_secs(2);
        let error = wait_for_start(past, Duration::ZERO, &stop, false).unwrap_err();
        assert!(error.to_string().contains("in the past"), "{error}");
        let soon = SystemTime::now() + Duration::from_millis(100);
        let error = wait_for_start(soon, Duration::from_secs(5), &stop, false).unwrap_err();
        assert!(error.to_string().contains("warm-up"), "{error}");
    }

    #[test]
    fn the_wait_ends_at_the_start() {
        let stop = AtomicBool::new(false);
        let start_at = SystemTime::now() + Duration::from_millis(300);
        wait_for_start(start_at, Duration::from_millis(100), &stop, false).unwrap();
        let now = SystemTime::now();
        // Woken at start_at − warm-up, give or take the scheduler.
        let begin = start_at - Duration::from_millis(100);
        assert!(now >= begin, "woke before the start");
        assert!(
            now.duration_since(begin).unwrap() < Duration::from_secs(2),
            "the wait overran"
        );
    }
}
