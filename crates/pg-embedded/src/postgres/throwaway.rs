//! Where throwaway clusters live, and sweeping up those of test runs that were killed.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::signal::kill;
use nix::unistd::{Pid, Uid};

use super::error::{EmbeddedError, io_error};

/// The folder holding this user's throwaway clusters, `$TMPDIR/kit-embedded-postgres-<uid>`:
/// ours, mode 0711 (the server user may pass through, nobody else may list or write it),
/// so no other local user can swap a cluster's directory, or its socket, for their own.
pub(super) fn throwaway_root() -> Result<PathBuf, EmbeddedError> {
    let uid = Uid::effective();
    let root = std::env::temp_dir().join(format!("kit-embedded-postgres-{uid}"));
    match fs::DirBuilder::new().mode(0o711).create(&root) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(io_error(format!("creating {}", root.display()))(error)),
    }
    if !only_we_write(&root) {
        return Err(EmbeddedError::UntrustedDirectory { dir: root });
    }
    Ok(root)
}

/// Whether `dir` is a directory (not a link) we own that nobody else may write.
fn only_we_write(dir: &Path) -> bool {
    fs::symlink_metadata(dir).is_ok_and(|metadata| {
        metadata.is_dir()
            && metadata.uid() == Uid::effective().as_raw()
            && metadata.mode() & 0o022 == 0
    })
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

/// Removes throwaway clusters (data directories and their logs) whose owning process is
/// gone (a test run that was killed).
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
            let _ = match entry.file_type() {
                Ok(kind) if kind.is_dir() => fs::remove_dir_all(entry.path()),
                _ => fs::remove_file(entry.path()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::{only_we_write, throwaway_root, unique_name};

    #[test]
    fn the_throwaway_root_is_ours_and_only_we_write_it() {
        let root = throwaway_root().expect("the throwaway root");
        assert!(only_we_write(&root));
        let shared = tempfile::tempdir().expect("a temporary directory");
        fs::set_permissions(shared.path(), fs::Permissions::from_mode(0o777))
            .expect("opening the directory to everyone");
        assert!(
            !only_we_write(shared.path()),
            "a directory anyone may write"
        );
        let link = shared.path().join("link");
        std::os::unix::fs::symlink(&root, &link).expect("a link to the root");
        assert!(!only_we_write(&link), "a link, even to our own directory");
    }

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
