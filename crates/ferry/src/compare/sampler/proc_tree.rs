//! A process tree's cumulative CPU time and resident memory, read from `/proc`.
//!
//! The CPU a tree used over a window is the difference of the kernel's own cumulative
//! counters at its two ends, never an average of rates: `/proc/PID/stat`'s `utime + stime`
//! (the process, all its threads) plus `cutime + cstime` (every child it has waited for,
//! with their own waited-for children). So a child that lives and dies between two readings
//! (a process forked per request, a cluster worker that crashed) is counted through its
//! parent once the parent reaps it.
//!
//! Membership comes from a rescan of every process (the root and every process whose parent
//! is a member), which costs a read of every `/proc/PID/stat` on the machine; in between, a
//! cheap reading reads the known members only. A process started since the previous rescan
//! is found at the next one, and counted whole then (all its life is since); if it dies
//! first, through its parent. A process once counted stays counted while it lives, even
//! when its parent exits and it is reparented outside the tree (a daemonised grandchild is
//! still the target's work).
//!
//! When a member exits and a member reaps it, its whole CPU time lands in the reaper's
//! `cutime`/`cstime`; the part already counted at the previous reading is subtracted there,
//! so every tick is counted once. What is lost: a process reaped outside the tree (its
//! parent exited first, so init or a subreaper waited for it) or auto-reaped (its parent
//! ignores `SIGCHLD`; the kernel adds its time to nobody) loses its time since the previous
//! reading, or all of it if it lived between two readings. The counters tick at `CLK_TCK`
//! (100/s): a reading is exact to 10 ms of CPU per process.

use std::collections::HashMap;
use std::fs;

/// One process's line of `/proc/PID/stat`, the fields used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    pub ppid: u32,
    /// Start time, in clock ticks since boot: with the pid, it names one process (pids are
    /// reused).
    pub start: u64,
    /// `utime + stime`, in clock ticks.
    pub own: u64,
    /// `cutime + cstime`: the children it has reaped, in clock ticks.
    pub children: u64,
    pub rss_pages: u64,
}

impl Stat {
    fn total(&self) -> u64 {
        self.own + self.children
    }
}

/// Parses `/proc/PID/stat`. The command name is in parentheses and may hold spaces or
/// parentheses itself, so the fields are counted from the last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Field n of proc(5) is fields[n - 3]: state is field 3.
    let field = |n: usize| -> Option<u64> {
        let value: i64 = fields.get(n - 3)?.parse().ok()?;
        Some(value.max(0) as u64)
    };
    Some(Stat {
        pid,
        ppid: u32::try_from(field(4)?).ok()?,
        own: field(14)? + field(15)?,
        children: field(16)? + field(17)?,
        start: field(22)?,
        rss_pages: field(24)?,
    })
}

/// Every process on the machine (thread-group leaders: `/proc` lists no threads).
fn every_process() -> HashMap<u32, Stat> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(|entry| {
            let name = entry.ok()?.file_name();
            let pid: u32 = name.to_str()?.parse().ok()?;
            // Gone since the listing: not a member any more.
            let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&text)
        })
        .map(|stat| (stat.pid, stat))
        .collect()
}

/// The known members (and the root) as they are now; the dead ones are missing.
fn known_processes(root: u32, known: &HashMap<u32, Stat>) -> HashMap<u32, Stat> {
    std::iter::once(root)
        .chain(known.keys().copied())
        .filter_map(|pid| {
            let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            parse_stat(&text)
        })
        .map(|stat| (stat.pid, stat))
        .collect()
}

/// An entry of the process's auxiliary vector (`AT_CLKTCK`, `AT_PAGESZ`): what libc's
/// `sysconf` answers, without a libc binding.
fn auxv(key: usize) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let bytes = fs::read("/proc/self/auxv").ok()?;
    bytes.chunks_exact(2 * WORD).find_map(|pair| {
        let word = |at: usize| {
            let mut buffer = [0u8; WORD];
            buffer.copy_from_slice(&pair[at..at + WORD]);
            usize::from_ne_bytes(buffer)
        };
        (word(0) == key).then(|| word(WORD) as u64)
    })
}

/// Clock ticks per second of the `/proc` counters (`USER_HZ`, 100 on Linux).
pub fn clock_ticks() -> u64 {
    const AT_CLKTCK: usize = 17;
    auxv(AT_CLKTCK).filter(|hz| *hz > 0).unwrap_or(100)
}

fn page_size() -> u64 {
    const AT_PAGESZ: usize = 6;
    auxv(AT_PAGESZ).filter(|size| *size > 0).unwrap_or(4096)
}

/// Now, in clock ticks since boot (the clock of `Stat::start`).
fn boot_ticks(hz: u64) -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME).map_or(0, |now| {
        (now.tv_sec() as u64 * hz) + (now.tv_nsec() as u64 * hz / 1_000_000_000)
    })
}

/// The tree at one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeReading {
    /// CPU time of the tree since the counter was made, in seconds.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
    /// Members alive now.
    pub processes: usize,
}

/// The cumulative CPU time of the tree under a root, from its first reading on.
pub struct TreeCounter {
    root: u32,
    members: HashMap<u32, Stat>,
    /// Boot time (ticks) when the previous rescan began: a member not seen then and
    /// started since is new, and all its time is in the window.
    rescanned_at: u64,
    /// Ticks counted since the first reading.
    ticks: u64,
    hz: u64,
    page: u64,
}

impl TreeCounter {
    /// A counter whose first reading (a rescan: the zero of its CPU time) is taken now.
    pub fn new(root: u32) -> TreeCounter {
        let hz = clock_ticks();
        let mut counter = TreeCounter {
            root,
            members: HashMap::new(),
            // No process started after the end of time: the first rescan only learns the
            // tree.
            rescanned_at: u64::MAX,
            ticks: 0,
            hz,
            page: page_size(),
        };
        counter.read(true);
        counter
    }

    /// Reads the tree now: every process when `rescan`, else the known members only.
    pub fn read(&mut self, rescan: bool) -> TreeReading {
        let began = boot_ticks(self.hz);
        let (all, new_since) = if rescan {
            (every_process(), self.rescanned_at)
        } else {
            // Nothing unknown is read, so nothing is new.
            (known_processes(self.root, &self.members), u64::MAX)
        };
        let now = members(self.root, &self.members, all);
        self.ticks += credit(&self.members, &now, new_since);
        let rss_pages: u64 = now.values().map(|stat| stat.rss_pages).sum();
        let processes = now.len();
        self.members = now;
        if rescan {
            self.rescanned_at = began;
        }
        TreeReading {
            cpu_seconds: self.ticks as f64 / self.hz as f64,
            rss_bytes: rss_pages * self.page,
            processes,
        }
    }
}

/// The root, the members still alive, and every descendant of those.
fn members(root: u32, known: &HashMap<u32, Stat>, all: HashMap<u32, Stat>) -> HashMap<u32, Stat> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    for stat in all.values() {
        children.entry(stat.ppid).or_default().push(stat.pid);
    }
    let mut queue: Vec<u32> = std::iter::once(root)
        .chain(
            known
                .values()
                .filter(|old| all.get(&old.pid).is_some_and(|s| s.start == old.start))
                .map(|old| old.pid),
        )
        .collect();
    let mut tree = HashMap::new();
    while let Some(pid) = queue.pop() {
        let Some(stat) = all.get(&pid) else { continue };
        if tree.insert(pid, *stat).is_none() {
            queue.extend(children.get(&pid).into_iter().flatten());
        }
    }
    tree
}

/// The ticks the tree used between the `before` and `now` readings; a member unknown before
/// and started at or after `new_since` is new.
fn credit(before: &HashMap<u32, Stat>, now: &HashMap<u32, Stat>, new_since: u64) -> u64 {
    let persists = |pid: &u32| {
        before
            .get(pid)
            .is_some_and(|old| now.get(pid).is_some_and(|new| new.start == old.start))
    };
    // What was already counted of members that have gone, owed by the nearest living
    // ancestor whose `cutime`/`cstime` will have taken their whole time when it reaped them.
    let mut owed: HashMap<u32, u64> = HashMap::new();
    for gone in before.values().filter(|stat| !persists(&stat.pid)) {
        let mut parent = gone.ppid;
        for _ in 0..=before.len() {
            if persists(&parent) {
                *owed.entry(parent).or_default() += gone.total();
                break;
            }
            match before.get(&parent) {
                Some(stat) => parent = stat.ppid,
                None => break,
            }
        }
    }
    now.values()
        .map(|stat| match before.get(&stat.pid) {
            Some(old) if old.start == stat.start => {
                let reaped = stat.children.saturating_sub(old.children);
                stat.own.saturating_sub(old.own)
                    + reaped.saturating_sub(owed.get(&stat.pid).copied().unwrap_or(0))
            }
            // Started since the previous rescan: its whole life is in the window.
            _ if stat.start >= new_since => stat.total(),
            // Older than the previous rescan but not seen in it: its history is unknown.
            _ => 0,
        })
        .sum()
}

/// Resident memory of the tree under `root` right now.
pub fn tree_rss(root: u32) -> u64 {
    TreeCounter::new(root).read(false).rss_bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(pid: u32, ppid: u32, own: u64, children: u64) -> Stat {
        Stat {
            pid,
            ppid,
            start: 10,
            own,
            children,
            rss_pages: 1,
        }
    }

    fn table(stats: &[Stat]) -> HashMap<u32, Stat> {
        stats.iter().map(|s| (s.pid, *s)).collect()
    }

    #[test]
    fn a_stat_line_is_read_past_a_command_with_parentheses() {
        let line = "4242 (a (b) c) S 7 4242 4242 0 -1 4194304 100 0 0 0 \
                    150 50 30 20 20 0 1 0 98765 123456789 321 18446744073709551615";
        let stat = parse_stat(line).expect("a full stat line parses");
        assert_eq!(
            stat,
            Stat {
                pid: 4242,
                ppid: 7,
                start: 98765,
                own: 200,
                children: 50,
                rss_pages: 321,
            }
        );
    }

    /// A worker that exits and is reaped by its parent: the parent's `cutime` takes the
    /// worker's whole time; only what the worker used since the previous reading is new.
    #[test]
    fn a_reaped_member_is_counted_once() {
        let before = table(&[stat(1, 0, 100, 0), stat(2, 1, 500, 0)]);
        // The worker used 30 more ticks, exited, and was reaped: 530 moved into the parent.
        let now = table(&[stat(1, 0, 110, 530)]);
        assert_eq!(credit(&before, &now, 20), 10 + 30);
    }

    /// A grandchild reaped by a child that was itself reaped: the root owes both.
    #[test]
    fn a_chain_of_reaped_members_is_counted_once() {
        let before = table(&[stat(1, 0, 0, 0), stat(2, 1, 100, 0), stat(3, 2, 200, 0)]);
        let now = table(&[stat(1, 0, 0, 100 + 5 + 200 + 7)]);
        assert_eq!(credit(&before, &now, 20), 5 + 7);
    }

    /// A child born after the previous reading counts whole; one older than it (not seen,
    /// so of unknown history) counts from now on.
    #[test]
    fn a_new_member_counts_from_its_start() {
        let before = table(&[stat(1, 0, 0, 0)]);
        let mut young = stat(2, 1, 40, 0);
        young.start = 25;
        let old = stat(3, 1, 900, 0);
        let now = table(&[stat(1, 0, 0, 0), young, old]);
        assert_eq!(credit(&before, &now, 20), 40);
    }

    /// A member gone without its parent's `cutime` growing (reaped outside the tree, or
    /// auto-reaped) loses its time since the previous reading; nothing goes negative.
    #[test]
    fn a_member_reaped_elsewhere_loses_only_its_last_interval() {
        let before = table(&[stat(1, 0, 100, 0), stat(2, 1, 500, 0)]);
        let now = table(&[stat(1, 0, 120, 0)]);
        assert_eq!(credit(&before, &now, 20), 20);
    }

    #[test]
    fn a_child_process_is_part_of_the_tree() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .expect("sleep runs");
        let mut counter = TreeCounter::new(std::process::id());
        let reading = counter.read(false);
        assert!(
            counter.members.contains_key(&child.id()),
            "{:?}",
            counter.members.keys()
        );
        assert!(reading.processes >= 2, "{reading:?}");
        let child_rss = counter.members[&child.id()].rss_pages * counter.page;
        assert!(
            child_rss > 0 && reading.rss_bytes > child_rss,
            "{reading:?}"
        );
        child.kill().expect("the child is ours to kill");
        child.wait().expect("the child is ours to reap");
    }

    /// Children that live and die between two readings (a process per request) are
    /// counted through their parent's `cutime`, to the kernel's own count.
    #[test]
    fn short_lived_children_are_counted_through_their_parent() {
        use std::io::{BufRead, BufReader};
        // A parent of its own (this test binary's other tests have children too): four
        // children that burn CPU one after the other, then it idles while it is read.
        let mut parent = std::process::Command::new("sh")
            .args([
                "-c",
                "for c in 1 2 3 4; do sh -c 'i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done'; \
                 done; echo done; sleep 5",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sh runs");
        let mut counter = TreeCounter::new(parent.id());
        let mut line = String::new();
        BufReader::new(parent.stdout.take().expect("stdout is piped"))
            .read_line(&mut line)
            .expect("the parent says when its children are done");
        // The children were born and reaped between two readings, neither a rescan.
        let counted = counter.read(false).cpu_seconds;
        let kernel = std::fs::read_to_string(format!("/proc/{}/stat", parent.id()))
            .ok()
            .and_then(|text| parse_stat(&text))
            .expect("the parent's stat parses")
            .total() as f64
            / clock_ticks() as f64;
        parent.kill().expect("the parent is ours to kill");
        parent.wait().expect("the parent is ours to reap");
        eprintln!(
            "the kernel counted {kernel:.2} s for the parent and its children, the tree {counted:.2} s"
        );
        assert!(kernel > 0.0, "the loops used CPU");
        // The parent's own start-up before the first reading is the only difference.
        assert!(
            counted <= kernel && counted >= kernel - 0.02,
            "counted {counted} s, the kernel {kernel} s"
        );
    }
}
