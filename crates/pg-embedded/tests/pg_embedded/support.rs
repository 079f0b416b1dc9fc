//! Asking a real cluster with the server's own `psql`.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;

use nix::unistd::User;

/// The result of `sql` through `psql` at `url` (a URL or a libpq connection string), run
/// as `as_user` when given (we must be root for that), else as ourselves.
pub fn psql(
    bin_dir: &Path,
    url: &str,
    sql: &str,
    as_user: Option<&User>,
) -> Result<String, String> {
    let mut command = Command::new(bin_dir.join("psql"));
    // -X: no ~/.psqlrc, whoever runs it; -w: never wait for a password.
    command.args(["-X", "-w", "-tA", "-d", url, "-c", sql]);
    if let Some(user) = as_user {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    let output = command
        .output()
        .map_err(|error| format!("running psql: {error}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}
