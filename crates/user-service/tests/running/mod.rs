//! The overload binary's view of the shared support (`tests/support/`): the real binary as
//! a child process, plus the memory readings only the overload tests take. (The lifecycle
//! binary's view, with the signals, is `lifecycle/running.rs`.)

#[path = "../support/process.rs"]
mod process;
#[path = "../support/users.rs"]
mod users;

pub use process::{RunningService, command, create_user};
pub use users::{JWT_SECRET, token};

impl RunningService {
    /// Resident memory of the service process.
    pub fn rss_bytes(&self) -> Option<u64> {
        rss_of(self.pid())
    }
}

/// Resident memory of process `pid`, from `/proc`.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(kib * 1024)
}
