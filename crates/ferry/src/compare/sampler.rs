//! CPU and memory of a target's whole process tree (the Node cluster primary and every
//! worker), sampled every 100 ms on a thread of its own while a scenario runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

/// Between samples.
pub const INTERVAL: Duration = Duration::from_millis(100);
/// Every this many samples the whole process table is read again, to find new children (a
/// cluster worker restarted); in between only the known tree is refreshed, which is cheap.
const RESCAN_EVERY: u32 = 10;

/// One sample of the tree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since sampling started.
    pub t_s: f64,
    /// CPU time used since the previous sample, in % of one core (200 = two cores busy).
    pub cpu_percent: f64,
    /// Resident memory of every process of the tree, summed.
    pub rss_bytes: u64,
}

/// A running sampler; [`Sampler::finish`] stops it and returns its samples.
pub struct Sampler {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Sample>>,
}

impl Sampler {
    /// Samples the tree under `root` until finished.
    pub fn start(root: u32) -> Result<Sampler> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name("ferry-sampler".into())
            .spawn(move || sample_until(root, &thread_stop))
            .context("starting the CPU/RSS sampler")?;
        Ok(Sampler { stop, handle })
    }

    pub fn finish(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::Relaxed);
        // A panicking sampler loses its samples, not the run.
        self.handle.join().unwrap_or_default()
    }
}

fn refresh_kind() -> ProcessRefreshKind {
    // No tasks: threads would otherwise be listed as processes and counted twice.
    ProcessRefreshKind::nothing().with_cpu().with_memory()
}

fn sample_until(root: u32, stop: &AtomicBool) -> Vec<Sample> {
    let Ok(mut system) = System::new() else {
        return Vec::new();
    };
    let root = Pid::from_u32(root);
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh_kind());
    let mut tree = tree_of(&system, root);
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut tick = 0u32;
    // CPU% from the tree's accumulated CPU time over the wall time between samples.
    // (sysinfo's own `cpu_usage` refreshes the system's CPU times at most every 200 ms,
    // so at a 100 ms cadence it divides one interval's process time by another's.)
    let mut last_cpu_ms = totals(&system, &tree).0;
    let mut last_at = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let next = start + INTERVAL * (tick + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        tick += 1;
        if tick.is_multiple_of(RESCAN_EVERY) {
            system.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh_kind());
            tree = tree_of(&system, root);
        } else {
            system.refresh_processes_specifics(
                ProcessesToUpdate::Some(&tree),
                true,
                refresh_kind(),
            );
        }
        let (cpu_ms, rss) = totals(&system, &tree);
        let now = Instant::now();
        let wall_ms = now.duration_since(last_at).as_secs_f64() * 1000.0;
        // A process leaving the tree takes its time with it: count that interval as 0.
        let cpu = cpu_ms.saturating_sub(last_cpu_ms) as f64 / wall_ms.max(1.0) * 100.0;
        (last_cpu_ms, last_at) = (cpu_ms, now);
        samples.push(Sample {
            t_s: start.elapsed().as_secs_f64(),
            cpu_percent: cpu,
            rss_bytes: rss,
        });
    }
    samples
}

/// `root` and all its descendants that are processes (not threads).
fn tree_of(system: &System, root: Pid) -> Vec<Pid> {
    let mut tree = vec![root];
    let mut index = 0;
    while index < tree.len() {
        let parent = tree[index];
        for (pid, process) in system.processes() {
            if process.parent() == Some(parent)
                && process.thread_kind().is_none()
                && !tree.contains(pid)
            {
                tree.push(*pid);
            }
        }
        index += 1;
    }
    tree.retain(|pid| system.process(*pid).is_some());
    tree
}

/// The tree's accumulated CPU time (ms) and resident memory (bytes).
fn totals(system: &System, tree: &[Pid]) -> (u64, u64) {
    tree.iter()
        .filter_map(|pid| system.process(*pid))
        .fold((0, 0), |(cpu, rss), process| {
            (cpu + process.accumulated_cpu_time(), rss + process.memory())
        })
}

/// Resident memory of the tree under `root` right now.
pub fn tree_rss(root: u32) -> u64 {
    let Ok(mut system) = System::new() else {
        return 0;
    };
    system.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh_kind());
    let tree = tree_of(&system, Pid::from_u32(root));
    totals(&system, &tree).1
}

/// Mean CPU% over the samples (the first has no interval behind it and is skipped) and the
/// peak RSS.
pub fn summarise(samples: &[Sample]) -> (f64, u64) {
    let cpu: Vec<f64> = samples.iter().skip(1).map(|s| s.cpu_percent).collect();
    let mean = if cpu.is_empty() {
        0.0
    } else {
        cpu.iter().sum::<f64>() / cpu.len() as f64
    };
    let peak = samples.iter().map(|s| s.rss_bytes).max().unwrap_or(0);
    (mean, peak)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_process_is_part_of_the_tree() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let rss = tree_rss(std::process::id());
        let alone = {
            let mut system = System::new().unwrap();
            system.refresh_processes_specifics(ProcessesToUpdate::All, true, refresh_kind());
            let tree = tree_of(&system, Pid::from_u32(std::process::id()));
            assert!(tree.contains(&Pid::from_u32(child.id())), "{tree:?}");
            system
                .process(Pid::from_u32(std::process::id()))
                .unwrap()
                .memory()
        };
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(rss > alone, "the tree's RSS includes the child's");
    }

    /// CPU seconds a process has used, from /proc/PID/stat (utime + stime), independently
    /// of sysinfo.
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
        let clock_ticks = std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .unwrap_or(100.0);
        ticks as f64 / clock_ticks
    }

    #[test]
    fn a_busy_child_shows_cpu() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "while :; do :; done"])
            .spawn()
            .unwrap();
        let before = (proc_cpu_seconds(child.id()), Instant::now());
        let sampler = Sampler::start(std::process::id()).unwrap();
        std::thread::sleep(Duration::from_millis(1200));
        let samples = sampler.finish();
        let after = (proc_cpu_seconds(child.id()), Instant::now());
        child.kill().unwrap();
        child.wait().unwrap();
        let (cpu, _) = summarise(&samples);
        // What the child really got over the same window, by the kernel's own count: on an
        // idle machine about 100% of a core, on a loaded one less. The sampled tree holds the
        // child, so it must read at least that much, give or take a sample's rounding.
        let child_percent = (after.0 - before.0) / (after.1 - before.1).as_secs_f64() * 100.0;
        eprintln!(
            "busy child: sampled tree {cpu:.0}%, the child by /proc {child_percent:.0}%, over {} samples",
            samples.len()
        );
        // The bug this guards against divided by the wrong interval and read about half.
        assert!(
            cpu >= child_percent * 0.75 - 5.0,
            "the tree read as {cpu:.0}% of a core while its busy child alone used \
             {child_percent:.0}%: {samples:?}"
        );
        assert!(cpu > 0.0, "a busy child must show some CPU: {samples:?}");
    }
}
