//! Creating a cluster with `initdb`.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::SUPERUSER;
use super::error::{EmbeddedError, io_error};
use super::server_user::ServerUser;

/// Creates a cluster in `data_dir` that trusts local connections as the superuser.
/// `ephemeral` skips initdb's fsync (throwaway clusters).
pub(super) fn init_cluster(
    bin_dir: &Path,
    user: &ServerUser,
    data_dir: &Path,
    ephemeral: bool,
) -> Result<(), EmbeddedError> {
    let parent = data_dir.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io_error(format!("creating {}", parent.display())))?;
    // initdb into a sibling and rename it into place, so an interrupted initdb never
    // leaves a half-made cluster where the next start would trip over it.
    let staging = data_dir.with_extension("initdb");
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .map_err(io_error(format!("removing {}", staging.display())))?;
    }
    fs::create_dir_all(&staging).map_err(io_error(format!("creating {}", staging.display())))?;
    user.hand_over(parent, false)?;
    user.hand_over(&staging, true)?;
    let program = bin_dir.join("initdb");
    let mut command = Command::new(&program);
    command.arg("-D").arg(&staging).args([
        "-U",
        SUPERUSER,
        "-A",
        "trust",
        "-E",
        "UTF8",
        "--locale=C",
    ]);
    if ephemeral {
        command.arg("--no-sync");
    }
    user.apply(&mut command);
    let output = command
        .output()
        .map_err(io_error(format!("running {}", program.display())))?;
    if !output.status.success() {
        return Err(EmbeddedError::CommandFailed {
            command: "initdb".into(),
            status: output.status.to_string(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        });
    }
    fs::rename(&staging, data_dir).map_err(io_error(format!(
        "moving the new cluster to {}",
        data_dir.display()
    )))?;
    tracing::info!(data_dir = %data_dir.display(), "created an embedded PostgreSQL cluster");
    Ok(())
}
