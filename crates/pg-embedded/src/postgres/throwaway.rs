//! Where throwaway clusters live, and sweeping up those of test runs that were killed.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::signal::kill;
use nix::unistd::Pid;

/// The folder holding every throwaway cluster of this machine.
pub(super) fn throwaway_root() -> PathBuf {
    std::env::temp_dir().join("kit-embedded-postgres")
}

/// A directory name unique to this process and call. It starts with our pid, which is how
/// [`sweep_abandoned`] tells whose it is.
pub(super) fn unique_name() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    format!("{}-{nanos:x}-{call}", std::process::id())
}

/// Removes throwaway clusters whose owning process is gone (a test run that was killed).
pub(super) fn sweep_abandoned(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.split('-').next()?.parse::<i32>().ok())
        else {
            continue;
        };
        // Signal 0 asks whether the process exists without touching it.
        if kill(Pid::from_raw(pid), None).is_err() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unique_name;

    #[test]
    fn names_are_unique_and_start_with_our_pid() {
        let (first, second) = (unique_name(), unique_name());
        assert_ne!(first, second);
        let pid = first
            .split('-')
            .next()
            .expect("split yields one part at least");
        assert_eq!(pid, std::process::id().to_string());
    }
}
