//! Who the server runs as. PostgreSQL refuses to run as root: as root the server runs as
//! the `postgres` system user, which then owns the data directory.

use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

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
            // HOME of root is not readable by postgres; some tools look there.
            command.env("HOME", &user.dir);
        }
    }

    /// Gives `dir` to the server user (`own`), or only makes it traversable for them (a
    /// parent of the data directory), when the server runs as another user.
    pub(super) fn hand_over(&self, dir: &Path, own: bool) -> Result<(), EmbeddedError> {
        let Some(user) = &self.0 else {
            return Ok(());
        };
        if own {
            chown(dir, Some(user.uid.as_raw()), Some(user.gid.as_raw())).map_err(io_error(
                format!("giving {} to the postgres user", dir.display()),
            ))?;
        } else {
            let metadata =
                fs::metadata(dir).map_err(io_error(format!("reading {}", dir.display())))?;
            let mode = metadata.permissions().mode();
            if mode & 0o001 == 0 {
                fs::set_permissions(dir, fs::Permissions::from_mode(mode | 0o711))
                    .map_err(io_error(format!("making {} traversable", dir.display())))?;
            }
        }
        Ok(())
    }
}
