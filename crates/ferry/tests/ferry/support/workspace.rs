//! Where the workspace and its build output are, and the release user-service the tests
//! that start real services run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ferry::compare::targets::Launch;

/// The workspace root, two levels above this crate.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/ferry sits two levels below the workspace root")
        .to_path_buf()
}

/// target/, beside the binary cargo built (target/<profile>/ferry).
pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_ferry"))
        .parent()
        .and_then(Path::parent)
        .expect("cargo puts binaries in <target>/<profile>/")
        .to_path_buf()
}

/// Builds (if needed) and returns the release user-service.
pub fn release_user_service() -> PathBuf {
    user_service(true)
}

/// Builds (if needed) and returns the user-service of the release or the dev profile. The
/// dev one is the binary `cargo test --workspace --all-targets` builds (with the workspace's
/// test features): `cargo build -p user-service` would resolve features again and recompile
/// the kit and a dozen crates beside the test build (a minute and a half in CI).
pub fn user_service(release: bool) -> PathBuf {
    // CI's scripts build it first and name it: cargo run from inside a test rebuilds crates
    // whose build scripts read the environment cargo gives a test (ring), and the next
    // cargo run outside rebuilds them back (40 s each way).
    if let (false, Some(path)) = (release, std::env::var_os("USER_SERVICE_DEBUG_BIN")) {
        return PathBuf::from(path);
    }
    let args = if release {
        vec!["build", "--release", "-p", "user-service"]
    } else {
        vec![
            "test",
            "--workspace",
            "--all-targets",
            "--no-run",
            "--quiet",
        ]
    };
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(&args)
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(repo())
        .status()
        .expect("running cargo to build the user-service");
    assert!(status.success(), "cargo {} failed", args.join(" "));
    target_dir()
        .join(if release { "release" } else { "debug" })
        .join("user-service")
}

/// A service started the way a lab starts it, ready at `/health/ready`.
pub fn launch(name: &str, argv: &[&str], cwd: &Path, env: &[(String, String)]) -> Launch {
    Launch {
        name: name.into(),
        argv: argv.iter().map(|arg| arg.to_string()).collect(),
        cwd: cwd.to_path_buf(),
        env: env.to_vec(),
        ready: "/health/ready".into(),
        ready_timeout: std::time::Duration::from_secs(60),
        values: BTreeMap::new(),
        mask: Default::default(),
        tls: None,
        container: None,
    }
}

/// A `user-service` subcommand with the services' environment (without the port); its stdout.
pub fn tool(binary: &Path, env: &[(String, String)], args: &[&str]) -> String {
    let output = Command::new(binary)
        .args(args)
        .current_dir(repo())
        .envs(
            env.iter()
                .filter(|(name, _)| name != "PORT")
                .map(|(k, v)| (k, v)),
        )
        .stdin(Stdio::null())
        .output()
        .expect("running a user-service subcommand");
    assert!(
        output.status.success(),
        "user-service {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
