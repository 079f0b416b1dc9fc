//! Who the server runs as. PostgreSQL refuses to run as root: as root the server runs as
//! the `postgres` system user, which then owns the data directory.

use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

use nix::unistd::{Uid, User};

use super::SUPERUSER;
use super::error::{EmbeddedError, io_error};

/// The system user the server runs as; `None` when that is us.
#[derive(Debug, Clone)]
pub(super) struct ServerUser(Option<User>);

impl ServerUser {
    /// `postgres` when we are root, else ourselves.
    pub(super) fn for_this_process() -> Result<Self, EmbeddedError> {
        if !Uid::effective().is_root() {
            return Ok(ServerUser(None));
        }
        User::from_name(SUPERUSER)
            .ok()
            .flatten()
            .map(|user| ServerUser(Some(user)))
            .ok_or(EmbeddedError::NoPostgresUser)
    }

    /// Makes `command` run as the server user.
    pub(super) fn apply(&self, command: &mut Command) {
        if let Some(user) = &self.0 {
            command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            // HOME of root is not readable by postgres; some tools look there. Nor may
            // our working directory be (a checkout in /root): every path we pass is
            // absolute, so the child starts in `/`.
            command.env("HOME", &user.dir).current_dir("/");
        }
    }

    /// Gives `dir` to the server user, when the server runs as another user.
    pub(super) fn give(&self, dir: &Path) -> Result<(), EmbeddedError> {
        let Some(user) = &self.0 else {
            return Ok(());
        };
        chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(io_error(format!(
            "giving {} to the postgres user",
            dir.display()
        )))
    }

    /// Whether the server user can enter `dir` (search permission on it and on every
    /// directory above it). Asked of `test -x` run as that user, with the very
    /// credentials initdb and the server get, rather than by reading modes here (which
    /// would miss ACLs and supplementary groups).
    pub(super) fn can_search(&self, dir: &Path) -> bool {
        if self.0.is_none() {
            return true;
        }
        let mut probe = Command::new("test");
        probe.arg("-x").arg(dir);
        self.apply(&mut probe);
        probe
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// The server user's home directory, when the server runs as another user.
    pub(super) fn home(&self) -> Option<&Path> {
        self.0.as_ref().map(|user| user.dir.as_path())
    }
}
