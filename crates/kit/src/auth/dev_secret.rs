//! The development secret: created once, random, in `[auth] dev_secret_file`, so that
//! `user-service token` and the service agree without any setup.
//!
//! An empty or short key would let anyone mint tokens, so:
//! - it is written atomically: a temporary file in the same directory, fsync, then a
//!   rename that refuses to replace (`RENAME_NOREPLACE`). A crash leaves no partial file,
//!   and of two processes starting at once, one secret wins and the other reads it;
//! - an existing file is used only when it is a regular file owned by this user, not
//!   readable or writable by anyone else, and holds at least
//!   [`MIN_SECRET_BYTES`](crate::config::MIN_SECRET_BYTES) bytes. Anything else stops
//!   start-up with the file named and what to do.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
use rand::Rng;

use super::AuthSetupError;
use crate::config::MIN_SECRET_BYTES;

/// Random characters in a new secret (alphanumeric: 48 of them carry 285 bits).
const NEW_SECRET_CHARS: usize = 48;

/// Reads the development secret, creating it the first time.
pub(super) fn load_or_create(path: &Path) -> Result<Vec<u8>, AuthSetupError> {
    match read_checked(path) {
        Err(AuthSetupError::DevSecret { source, .. }) if source.kind() == ErrorKind::NotFound => {
            create(path)
        }
        other => other,
    }
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> AuthSetupError + '_ {
    move |source| AuthSetupError::DevSecret {
        path: path.display().to_string(),
        source,
    }
}

fn unsafe_file(path: &Path, problem: String) -> AuthSetupError {
    AuthSetupError::DevSecretUnsafe {
        path: path.display().to_string(),
        problem,
    }
}

/// The secret in an existing file, after checking who can read it and that it is long.
fn read_checked(path: &Path) -> Result<Vec<u8>, AuthSetupError> {
    // O_NOFOLLOW: a symlink planted in place of the file is refused, not followed.
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)
        .map_err(io_error(path))?;
    let metadata = file.metadata().map_err(io_error(path))?;
    if !metadata.is_file() {
        return Err(unsafe_file(path, "is not a regular file".into()));
    }
    let owner = nix::unistd::geteuid().as_raw();
    if metadata.uid() != owner {
        return Err(unsafe_file(
            path,
            format!(
                "is owned by uid {}, not by this user (uid {owner}); remove it",
                metadata.uid()
            ),
        ));
    }
    if metadata.mode() & 0o077 != 0 {
        return Err(unsafe_file(
            path,
            format!(
                "has mode {:o}: others may read or change the key; run `chmod 600` on it",
                metadata.mode() & 0o777
            ),
        ));
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io_error(path))?;
    let secret = text.trim();
    if secret.len() < MIN_SECRET_BYTES {
        return Err(unsafe_file(
            path,
            format!(
                "holds {} bytes, fewer than {MIN_SECRET_BYTES}; delete it and a new secret is created",
                secret.len()
            ),
        ));
    }
    Ok(secret.as_bytes().to_vec())
}

/// Writes a new secret atomically; if another process won the race, reads its secret.
fn create(path: &Path) -> Result<Vec<u8>, AuthSetupError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(parent)
        .map_err(io_error(path))?;
    let secret: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(NEW_SECRET_CHARS)
        .map(char::from)
        .collect();
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "jwt-secret".into());
    let temporary = parent.join(format!(
        ".{name}.{}.{:016x}.tmp",
        std::process::id(),
        rand::rng().random::<u64>()
    ));
    let written = write_synced(&temporary, secret.as_bytes())
        .and_then(|()| {
            renameat2(
                AT_FDCWD,
                &temporary,
                AT_FDCWD,
                path,
                RenameFlags::RENAME_NOREPLACE,
            )
            .map_err(std::io::Error::from)
        })
        .and_then(|()| File::open(parent)?.sync_all());
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "created a development JWT secret");
            Ok(secret.into_bytes())
        }
        Err(error) => {
            let _ = fs::remove_file(&temporary);
            if error.kind() == ErrorKind::AlreadyExists {
                // Another process created it first: both use its secret.
                read_checked(path)
            } else {
                Err(io_error(path)(error))
            }
        }
    }
}

/// A new owner-only file with `contents`, on disk before it is renamed into place.
fn write_synced(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn an_existing_empty_file_is_refused_not_used_as_an_empty_key() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("jwt-secret");
        File::create(&path).expect("an empty file");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        let error = load_or_create(&path).expect_err("an empty key is refused");
        assert!(error.to_string().contains("fewer than 32"), "{error}");
    }

    #[test]
    fn a_file_others_can_read_is_refused() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("jwt-secret");
        fs::write(&path, "x".repeat(48)).expect("writing");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = load_or_create(&path).expect_err("a readable key is refused");
        assert!(error.to_string().contains("chmod 600"), "{error}");
    }

    #[test]
    fn created_once_owner_only_and_read_back() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("nested/jwt-secret");
        let first = load_or_create(&path).expect("created");
        assert!(first.len() >= MIN_SECRET_BYTES);
        let mode = fs::metadata(&path).expect("the file exists").mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create(&path).expect("read back"), first);
        let leftovers: Vec<_> = fs::read_dir(path.parent().expect("has a parent"))
            .expect("listing")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(
            leftovers.is_empty(),
            "no temporary file is left: {leftovers:?}"
        );
    }

    #[test]
    fn processes_starting_at_once_agree_on_one_non_empty_secret() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("jwt-secret");
        for _round in 0..20 {
            let _ = fs::remove_file(&path);
            let secrets: Vec<Vec<u8>> = std::thread::scope(|scope| {
                let racers: Vec<_> = (0..8)
                    .map(|_| scope.spawn(|| load_or_create(&path)))
                    .collect();
                racers
                    .into_iter()
                    .map(|racer| racer.join().expect("no panic").expect("a secret"))
                    .collect()
            });
            assert!(secrets[0].len() >= MIN_SECRET_BYTES);
            assert!(
                secrets.iter().all(|secret| *secret == secrets[0]),
                "every racer uses the same key"
            );
        }
    }
}
