//! Where a service's configuration folder is, and how a start-up line names it.

use std::path::{Path, PathBuf};

/// Where the layered files are read from: `APP_CONFIG_DIR` when set, else the first of
/// `candidates` that is a directory under the working directory, else the first candidate
/// (whose files, missing, are skipped).
pub fn config_dir(candidates: &[&str]) -> PathBuf {
    if let Some(dir) = std::env::var_os("APP_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    let working_dir = std::env::current_dir().unwrap_or_default();
    find_config_dir(&working_dir, candidates)
        .or_else(|| candidates.first().map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("config"))
}

/// The configuration folder as a start-up line names it; when it is missing, only the
/// defaults and the environment were read.
pub fn describe_config_dir(dir: &Path) -> String {
    if dir.is_dir() {
        dir.display().to_string()
    } else {
        format!("{} (absent: defaults and environment only)", dir.display())
    }
}

/// The first of `candidates` (relative paths) that is a directory under `working_dir`,
/// as given (relative), so that a log line names it as an operator would type it.
pub fn find_config_dir(working_dir: &Path, candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|candidate| working_dir.join(candidate).is_dir())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::find_config_dir;

    #[test]
    fn the_first_configuration_folder_that_exists_is_read() {
        let root = tempfile::tempdir().expect("a temporary directory");
        let candidates = ["config", "crates/service/config"];
        assert_eq!(find_config_dir(root.path(), &candidates), None);
        std::fs::create_dir_all(root.path().join("crates/service/config")).expect("mkdir");
        // From the repository root: the crate's folder.
        assert_eq!(
            find_config_dir(root.path(), &candidates),
            Some(PathBuf::from("crates/service/config"))
        );
        // From the crate: its own `config/`.
        assert_eq!(
            find_config_dir(&root.path().join("crates/service"), &candidates),
            Some(PathBuf::from("config"))
        );
    }
}
