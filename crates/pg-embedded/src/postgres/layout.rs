//! Where a cluster's files go, so that the server user can reach its data directory and
//! nobody else can reach its socket.
//!
//! - **Data directory.** As root the server runs as `postgres`, which cannot enter a
//!   checkout in `/root` or a `mktemp -d` directory (mode 0700). Rather than open the
//!   user's directories to it (chmod or ACLs on every ancestor), such a cluster lives in
//!   the server user's home, `~postgres/pg-embedded/<hash of the requested path>`, and
//!   the requested path becomes a symbolic link to it, so the user still finds the
//!   cluster where they configured it. The hash is FNV-1a: a specified function, so the
//!   same path finds the same cluster across builds and toolchains.
//! - **Socket directory.** The server listens on no TCP address, only on a Unix socket
//!   in a directory only the server user (and root) can enter: the data directory
//!   (initdb makes it 0700), or, when `<data dir>/.s.PGSQL.<port>` would not fit the
//!   107 bytes of a socket address, a fresh `mkdtemp` directory under `/tmp` (0700, given
//!   to the server user). `mkdtemp` picks a name nobody prepared, so no other user can
//!   plant the directory first.

use std::fs;
use std::hash::Hasher;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use super::error::{EmbeddedError, io_error};
use super::server_user::ServerUser;

/// Longest path a Unix socket address holds (`sun_path` is 108 bytes with the NUL).
const SOCKET_PATH_MAX: usize = 107;
/// The socket file's name with the longest port: `/.s.PGSQL.65535`.
const SOCKET_NAME_MAX: usize = "/.s.PGSQL.65535".len();
/// Template of a short private socket directory.
const PRIVATE_SOCKET_TEMPLATE: &str = "/tmp/pg-embedded-XXXXXX";

/// The data directory to use for `requested`: itself when the server user can reach its
/// parent, else the cluster's place in the server user's home, linked from `requested`.
pub(super) fn reachable_data_dir(
    user: &ServerUser,
    requested: &Path,
) -> Result<PathBuf, EmbeddedError> {
    let parent = requested.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(parent).map_err(io_error(format!("creating {}", parent.display())))?;
    if user.can_search(parent) {
        return Ok(requested.to_path_buf());
    }
    let Some(home) = user.home() else {
        // We are the server user: nobody else's permissions are involved.
        return Ok(requested.to_path_buf());
    };
    // 0700: the clusters' logs, written by us, sit beside their data directories.
    let relocated_root = home.join("pg-embedded");
    if !relocated_root.is_dir() {
        fs::DirBuilder::new()
            .mode(0o700)
            .create(&relocated_root)
            .map_err(io_error(format!("creating {}", relocated_root.display())))?;
        user.give(&relocated_root)?;
    }
    let relocated = relocated_root.join(format!("{:016x}", path_hash(requested)));
    link_to(requested, &relocated)?;
    tracing::info!(
        requested = %requested.display(),
        data_dir = %relocated.display(),
        "the postgres user cannot enter the requested directory; the cluster lives in its home, linked from there"
    );
    Ok(relocated)
}

/// Makes `link` a symbolic link to `target`: a missing path or an empty directory is
/// replaced, a link to elsewhere re-pointed; a directory with files is never touched.
fn link_to(link: &Path, target: &Path) -> Result<(), EmbeddedError> {
    match fs::symlink_metadata(link) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(io_error(format!("reading {}", link.display()))(error)),
        Ok(metadata) if metadata.file_type().is_symlink() => {
            if fs::read_link(link).is_ok_and(|current| current == target) {
                return Ok(());
            }
            fs::remove_file(link).map_err(io_error(format!("removing {}", link.display())))?;
        }
        Ok(metadata) if metadata.is_dir() => {
            fs::remove_dir(link).map_err(|_| EmbeddedError::UnreachableDataDir {
                data_dir: link.to_path_buf(),
            })?;
        }
        Ok(_) => {
            return Err(EmbeddedError::UnreachableDataDir {
                data_dir: link.to_path_buf(),
            });
        }
    }
    std::os::unix::fs::symlink(target, link).map_err(io_error(format!(
        "linking {} to {}",
        link.display(),
        target.display()
    )))
}

/// FNV-1a (64 bits) of the path's bytes.
fn path_hash(path: &Path) -> u64 {
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(path.as_os_str().as_bytes());
    hasher.finish()
}

/// Where the server's socket goes: the data directory when the socket path fits,
/// else a new private directory (`true`: ours to remove).
pub(super) fn socket_dir(
    user: &ServerUser,
    data_dir: &Path,
) -> Result<(PathBuf, bool), EmbeddedError> {
    if fits_a_socket_address(data_dir) {
        return Ok((data_dir.to_path_buf(), false));
    }
    let dir = nix::unistd::mkdtemp(PRIVATE_SOCKET_TEMPLATE).map_err(|errno| {
        io_error(format!(
            "creating a socket directory {PRIVATE_SOCKET_TEMPLATE}"
        ))(errno.into())
    })?;
    user.give(&dir)?;
    Ok((dir, true))
}

/// Whether a socket of any port in `dir` fits a Unix socket address.
pub(super) fn fits_a_socket_address(dir: &Path) -> bool {
    dir.as_os_str().len() + SOCKET_NAME_MAX <= SOCKET_PATH_MAX
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{fits_a_socket_address, path_hash};

    #[test]
    fn the_socket_limit_counts_the_longest_socket_name() {
        let fits = format!("/{}", "d".repeat(91));
        assert!(fits_a_socket_address(Path::new(&fits)));
        let too_long = format!("/{}", "d".repeat(92));
        assert!(!fits_a_socket_address(Path::new(&too_long)));
    }

    #[test]
    fn the_path_hash_is_fnv1a() {
        // The FNV-1a 64-bit test vector for "a"; the hash names persistent clusters, so
        // it must never change.
        assert_eq!(path_hash(Path::new("a")), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(path_hash(Path::new("/a/b")), path_hash(Path::new("/a/c")));
    }
}
