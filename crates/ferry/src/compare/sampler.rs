//! CPU and memory of a target's whole process tree (a cluster's primary and every worker),
//! or of the embedded database's (the postmaster and its backends), read every 100 ms on a
//! thread of its own while a run goes on; or, for a target on another machine, read from its
//! Prometheus metrics every second ([`super::remote_metrics`]).
//!
//! Every reading is of cumulative counters (CPU seconds so far: [`proc_tree`] for a tree,
//! `process_cpu_seconds_total` for a remote target), so the CPU over any stretch is the
//! difference of its two ends, and the mean over the measured window is the CPU time at
//! its end minus at its start over the wall time between: never an average of rates. A
//! reading is also taken exactly when the window starts and ends.
//!
//! The written samples are rates between readings at least [`MIN_GAP`] apart: a reading
//! closer than that to the last written one is not written, and its CPU goes into the next.
//! (Before, a reading that overran its 100 ms slot, such as the full process-table rescan
//! every tenth one on a busy machine, made the next one catch up at once: two readings
//! microseconds apart, whose one 10 ms tick over a 1 ms floor read as 1000 % of a core, and
//! the mean of such rates reached 7000 % on 2 cores.) For a tree on this machine, no sample
//! and no mean can honestly exceed `cores` × 100 %: one that does (a counter's tick rounding
//! over a short interval) is clamped, and counted in `cpu_clamped_samples`.

mod proc_tree;

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use proc_tree::TreeCounter;
pub use proc_tree::tree_rss;

use super::remote_metrics::RemoteCounter;

/// Between readings of a tree on this machine.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// Readings closer than this are merged into the next one: their rate is mostly rounding.
pub const MIN_GAP: Duration = Duration::from_millis(50);
/// Every this many readings, and at the window's ends, every process on the machine is read
/// to find the tree's new members; in between only the known members are, which is cheap
/// (a rescan costs about 1 ms of CPU per 100 processes on the machine).
const RESCAN_EVERY: usize = 5;

/// One written sample of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since sampling started.
    pub t_s: f64,
    /// CPU time used since the previous written sample over the wall time between, in % of
    /// one core (200 = two cores busy).
    pub cpu_percent: f64,
    /// Resident memory of every process of the tree, summed.
    pub rss_bytes: u64,
}

/// The cumulative counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// Seconds since sampling started.
    pub t_s: f64,
    /// CPU seconds used since the first reading.
    pub cpu_s: f64,
    pub rss_bytes: u64,
}

/// The measured part of a run, from the start of sampling: after the warm-up, for its
/// measured length (open-ended for a run of a number of requests).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    pub start: Duration,
    pub end: Option<Duration>,
}

/// What is read.
pub enum Source {
    /// The process tree under this pid, on this machine.
    Tree(u32),
    /// Prometheus process metrics at this URL.
    Metrics(String),
    /// A container's cgroup.
    Cgroup(super::container::Cgroup),
}

enum Counter {
    Tree(TreeCounter),
    Remote(RemoteCounter),
    Cgroup(super::container::Cgroup),
}

impl Counter {
    /// CPU seconds so far and resident memory; `None` when the source did not answer.
    fn read(&mut self, rescan: bool) -> Option<(f64, u64)> {
        match self {
            Counter::Tree(tree) => {
                let reading = tree.read(rescan);
                Some((reading.cpu_seconds, reading.rss_bytes))
            }
            Counter::Remote(remote) => remote.read(),
            Counter::Cgroup(cgroup) => cgroup.read(),
        }
    }
}

/// A running sampler; [`Sampler::finish`] takes a last reading, stops it and returns its
/// readings.
pub struct Sampler {
    stop: Sender<()>,
    handle: JoinHandle<Vec<Reading>>,
}

impl Sampler {
    /// Reads `source` from now until finished, and at the ends of `window`.
    pub fn start(source: Source, window: Window) -> Result<Sampler> {
        let started = Instant::now();
        let (stop, stopped) = mpsc::channel();
        let (name, interval) = match source {
            Source::Tree(_) | Source::Cgroup(_) => ("ferry-sampler", INTERVAL),
            Source::Metrics(_) => ("ferry-metrics", super::remote_metrics::INTERVAL),
        };
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let counter = match source {
                    Source::Tree(root) => Counter::Tree(TreeCounter::new(root)),
                    Source::Metrics(url) => Counter::Remote(RemoteCounter::new(url)),
                    Source::Cgroup(cgroup) => Counter::Cgroup(cgroup),
                };
                read_until(counter, started, interval, window, &stopped)
            })
            .context("starting the CPU/RSS sampler")?;
        Ok(Sampler { stop, handle })
    }

    pub fn finish(self) -> Vec<Reading> {
        // The thread may have gone already (a panic): then there is no one to tell.
        let _ = self.stop.send(());
        // A panicking sampler loses its readings, not the run.
        self.handle.join().unwrap_or_default()
    }
}

fn read_until(
    mut counter: Counter,
    started: Instant,
    interval: Duration,
    window: Window,
    stop: &mpsc::Receiver<()>,
) -> Vec<Reading> {
    let mut readings = Vec::new();
    let mut base: Option<f64> = None;
    let mut take = |readings: &mut Vec<Reading>, rescan: bool| {
        let before = started.elapsed();
        if let Some((cpu_s, rss_bytes)) = counter.read(rescan) {
            // The counters were read somewhere between the two instants.
            let t_s = (before + started.elapsed()).as_secs_f64() / 2.0;
            let zero = *base.get_or_insert(cpu_s);
            readings.push(Reading {
                t_s,
                cpu_s: cpu_s - zero,
                rss_bytes,
            });
        }
    };
    // The counter's own first reading was a rescan.
    let mut rescan = false;
    loop {
        take(&mut readings, rescan);
        let now = started.elapsed();
        let next = next_reading(now, interval, &window);
        rescan = readings.len().is_multiple_of(RESCAN_EVERY)
            || next == window.start
            || Some(next) == window.end;
        match stop.recv_timeout(next.saturating_sub(now)) {
            Err(RecvTimeoutError::Timeout) => {}
            // Finished: one last reading, now.
            _ => break,
        }
    }
    take(&mut readings, true);
    readings
}

/// When to read next: the next tick of the grid at least [`MIN_GAP`] from now (a late
/// reading skips ticks rather than catching up), or a window end before it.
fn next_reading(now: Duration, interval: Duration, window: &Window) -> Duration {
    let ticks = (now + MIN_GAP).as_nanos() / interval.as_nanos().max(1) + 1;
    let tick = interval * u32::try_from(ticks).unwrap_or(u32::MAX);
    [Some(window.start), window.end]
        .into_iter()
        .flatten()
        .filter(|end| *end > now)
        .fold(tick, Duration::min)
}

/// The readings as written samples: a reading less than [`MIN_GAP`] after the last written
/// one is merged into the next; rates above `cap` are clamped to it. Returns the samples
/// and how many were clamped.
pub fn series(readings: &[Reading], cap: Option<f64>) -> (Vec<Sample>, u32) {
    let mut samples = Vec::new();
    let mut clamped = 0;
    let Some((first, rest)) = readings.split_first() else {
        return (samples, clamped);
    };
    let mut last = first;
    for reading in rest {
        let wall = reading.t_s - last.t_s;
        if wall < MIN_GAP.as_secs_f64() {
            continue;
        }
        let (cpu_percent, over) = clamp(rate(last, reading, wall), cap);
        clamped += u32::from(over);
        samples.push(Sample {
            t_s: reading.t_s,
            cpu_percent,
            rss_bytes: reading.rss_bytes,
        });
        last = reading;
    }
    (samples, clamped)
}

/// The CPU mean over `window`: the counters at the reading taken at its end (the last one,
/// if the run stopped early) minus at its start, over the wall time between, clamped to
/// `cap`. `None` without two readings in it. The flag says whether it was clamped.
pub fn window_mean(readings: &[Reading], window: &Window, cap: Option<f64>) -> Option<(f64, bool)> {
    // A window end's reading is taken at it or just after, never before.
    let at_or_after = |end: Duration| {
        let end = end.as_secs_f64() - 1e-6;
        readings.iter().find(move |reading| reading.t_s >= end)
    };
    let from = at_or_after(window.start)?;
    let to = window.end.and_then(at_or_after).or(readings.last())?;
    let wall = to.t_s - from.t_s;
    (wall > 0.0).then(|| clamp(rate(from, to, wall), cap))
}

fn rate(from: &Reading, to: &Reading, wall: f64) -> f64 {
    (to.cpu_s - from.cpu_s).max(0.0) / wall * 100.0
}

fn clamp(percent: f64, cap: Option<f64>) -> (f64, bool) {
    match cap {
        Some(cap) if percent > cap => (cap, true),
        _ => (percent, false),
    }
}

/// The highest resident memory of the readings.
pub fn rss_peak(readings: &[Reading]) -> u64 {
    readings.iter().map(|r| r.rss_bytes).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(t_s: f64, cpu_s: f64) -> Reading {
        Reading {
            t_s,
            cpu_s,
            rss_bytes: 1,
        }
    }

    /// The samples: a reading 63 µs after another. It is not written; its CPU goes
    /// into the next sample, whose rate is over the whole interval.
    #[test]
    fn readings_closer_than_50_ms_are_merged_into_the_next() {
        let readings = [
            reading(0.0, 0.0),
            reading(1.166791, 0.50),
            reading(1.166854, 0.53),
            reading(1.2667, 0.60),
        ];
        let (samples, clamped) = series(&readings, Some(200.0));
        assert_eq!(clamped, 0);
        let times: Vec<f64> = samples.iter().map(|s| s.t_s).collect();
        assert_eq!(times, [1.166791, 1.2667]);
        let merged = samples[1].cpu_percent;
        assert!((merged - 0.10 / 0.099909 * 100.0).abs() < 1e-9, "{merged}");
        for pair in samples.windows(2) {
            assert!(
                pair[1].t_s - pair[0].t_s >= MIN_GAP.as_secs_f64(),
                "{samples:?}"
            );
        }
    }

    #[test]
    fn samples_above_the_cores_are_clamped_and_counted() {
        // 0.25 s of CPU in 0.1 s on 2 cores: a tick-rounding artefact.
        let readings = [reading(0.0, 0.0), reading(0.1, 0.25), reading(0.2, 0.3)];
        let (samples, clamped) = series(&readings, Some(200.0));
        assert_eq!(clamped, 1);
        assert_eq!(samples[0].cpu_percent, 200.0);
        assert!((samples[1].cpu_percent - 50.0).abs() < 1e-9);
        // A remote target's machine has cores of its own: no cap.
        let (remote, clamped) = series(&readings, None);
        assert_eq!((remote[0].cpu_percent.round(), clamped), (250.0, 0));
    }

    /// The mean is the counters' difference over the window, whatever the readings between
    /// (one close pair included), not the mean of their rates.
    #[test]
    fn the_mean_is_the_counters_difference_over_the_window() {
        let readings = [
            reading(0.0, 0.0),
            reading(0.5, 0.1),
            reading(0.6, 0.2),
            reading(0.60006, 0.23),
            reading(1.5, 1.1),
            reading(1.55, 1.2),
        ];
        let window = Window {
            start: Duration::from_millis(500),
            end: Some(Duration::from_millis(1500)),
        };
        let (mean, clamped) = window_mean(&readings, &window, Some(200.0)).expect("two readings");
        assert!(!clamped);
        assert!((mean - 100.0).abs() < 1e-9, "{mean}");
        // Open-ended: up to the last reading.
        let open = Window {
            end: None,
            ..window
        };
        let (mean, _) = window_mean(&readings, &open, Some(200.0)).expect("two readings");
        assert!((mean - 1.1 / 1.05 * 100.0).abs() < 1e-9, "{mean}");
        // Stopped before the window started: no mean.
        assert_eq!(window_mean(&readings[..2], &open, None), None);
        // Above the cores: clamped, and said so.
        let (mean, clamped) = window_mean(&readings, &window, Some(50.0)).expect("two readings");
        assert_eq!((mean, clamped), (50.0, true));
    }

    #[test]
    fn a_late_reading_skips_ticks_instead_of_catching_up() {
        let window = Window {
            start: Duration::from_millis(250),
            end: Some(Duration::from_millis(2250)),
        };
        let at = |ms| next_reading(Duration::from_millis(ms), INTERVAL, &window);
        assert_eq!(at(0), Duration::from_millis(100));
        assert_eq!(at(120), Duration::from_millis(200));
        // A reading that finished at 1.167 s (its 1.1 s slot long gone) waits for 1.3 s.
        assert_eq!(at(1167), Duration::from_millis(1300));
        // The window's ends are read at their time.
        assert_eq!(at(210), Duration::from_millis(250));
        assert_eq!(at(2230), Duration::from_millis(2250));
        assert_eq!(at(2250), Duration::from_millis(2400));
    }

    /// CPU seconds a process has used, from /proc/PID/stat (utime + stime), independently
    /// of the sampler.
    fn proc_cpu_seconds(pid: u32) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks as f64 / proc_tree::clock_ticks() as f64
    }

    #[test]
    fn a_busy_child_shows_cpu() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let before = (proc_cpu_seconds(child.id()), Instant::now());
        let window = Window {
            start: Duration::ZERO,
            end: None,
        };
        let sampler = Sampler::start(Source::Tree(std::process::id()), window).unwrap();
        std::thread::sleep(Duration::from_millis(1200));
        let readings = sampler.finish();
        let after = (proc_cpu_seconds(child.id()), Instant::now());
        child.kill().unwrap();
        child.wait().unwrap();
        let (cpu, _) = window_mean(&readings, &window, None).expect("readings over 1.2 s");
        // What the child really got over the same window, by the kernel's own count: on an
        // idle machine about 100% of a core, on a loaded one less. The sampled tree holds the
        // child, so it must read at least that much, give or take a tick at each end.
        let child_percent = (after.0 - before.0) / (after.1 - before.1).as_secs_f64() * 100.0;
        let (samples, _) = series(&readings, None);
        eprintln!(
            "busy child: sampled tree {cpu:.0}%, the child by /proc {child_percent:.0}%, over {} samples",
            samples.len()
        );
        assert!(
            cpu >= child_percent * 0.9 - 5.0,
            "the tree read as {cpu:.0}% of a core while its busy child alone used \
             {child_percent:.0}%: {samples:?}"
        );
        assert!(cpu > 0.0, "a busy child must show some CPU: {samples:?}");
        for pair in samples.windows(2) {
            assert!(
                pair[1].t_s - pair[0].t_s >= MIN_GAP.as_secs_f64(),
                "{samples:?}"
            );
        }
    }
}
