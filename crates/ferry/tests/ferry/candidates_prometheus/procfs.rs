//! What the test reads of the machine itself: CPU pressure, and the CPU seconds of a process
//! tree from /proc; and the priority it runs at.

use std::collections::BTreeMap;
use std::process::Command;

/// Above this share of time with runnable tasks waiting for a CPU (Linux PSI, `some avg60`),
/// the machine is too contended for an absolute workload class: latency then includes
/// run-queue wait that no service metric can tell from waiting on I/O.
pub(super) const CONTENDED_PRESSURE: f64 = 50.0;

/// `some avg60` of /proc/pressure/cpu, in percent; 0 where the kernel has no PSI.
pub(super) fn cpu_pressure() -> f64 {
    std::fs::read_to_string("/proc/pressure/cpu")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("some"))?;
            let field = line.split_whitespace().find(|f| f.starts_with("avg60="))?;
            field.trim_start_matches("avg60=").parse().ok()
        })
        .unwrap_or(0.0)
}

/// Every process of /proc: pid → (parent pid, utime + stime in seconds).
fn processes() -> BTreeMap<u32, (u32, f64)> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command's closing parenthesis come state, ppid, …; utime and stime are
        // fields 14 and 15 of the whole line.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ppid: u32 = fields[1].parse().unwrap_or(0);
        let cpu =
            fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        all.insert(pid, (ppid, cpu / ticks));
    }
    all
}

/// `pid` and all its descendants, with their CPU seconds.
fn tree(pid: u32) -> Vec<(u32, f64)> {
    let all = processes();
    all.iter()
        .filter(|(candidate, _)| {
            let mut walk = **candidate;
            while walk != 0 && walk != pid {
                walk = all.get(&walk).map_or(0, |(parent, _)| *parent);
            }
            walk == pid
        })
        .map(|(candidate, (_, cpu))| (*candidate, *cpu))
        .collect()
}

/// utime + stime of `pid` and all its descendants, in seconds.
pub(super) fn tree_cpu_seconds(pid: u32) -> f64 {
    tree(pid).iter().map(|(_, cpu)| cpu).sum()
}

/// Runs this test thread, and so everything it starts afterwards (the database, both
/// services and their threads, Prometheus, the load threads: each inherits the nice value
/// of the thread that creates it), at the highest priority. The machine is shared with other
/// builds, and a request preempted by a compiler looks like a request that waits, which
/// would blur the very thing the test checks (how much of a request's time is CPU).
pub(super) fn prioritise_this_thread() {
    let thread = nix::unistd::gettid().to_string();
    let status = Command::new("renice")
        .args(["-n", "-20", "-p", &thread])
        .stdout(std::process::Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("renice failed (not root?): the test runs at normal priority");
    }
}
