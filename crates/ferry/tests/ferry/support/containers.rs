//! What the container-target tests share: a lab written to a fresh folder and run by
//! ferry's own binary with podman, and the containers a target's name left behind.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Writes `lab` to a fresh folder named after `name` and runs `ferry compare --quick
/// --no-progress --engine podman` on it with `extra` arguments, the report in `out/` there
/// and no `DATABASE_URL` from the caller. Returns the folder and ferry's output.
pub fn run_lab(name: &str, lab: &str, extra: &[&str]) -> (PathBuf, Output) {
    let dir = std::env::temp_dir().join(format!("ferry-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("lab.toml"), lab).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["compare", "--quick", "--no-progress", "--engine", "podman"])
        .args(extra)
        .arg("--lab")
        .arg(dir.join("lab.toml"))
        .arg("--out")
        .arg(dir.join("out"))
        .env_remove("DATABASE_URL")
        .output()
        .expect("running the ferry binary cargo built for this test");
    (dir, output)
}

/// The names of the containers, running or not, that ferry made for `target`
/// (`ferry-TARGET-…`), space-separated: empty when none is left.
pub fn left_behind(target: &str) -> String {
    let output = Command::new("podman")
        .args(["ps", "--all", "--format", "{{.Names}}"])
        .output()
        .expect("podman runs");
    let prefix = format!("ferry-{target}-");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|name| name.starts_with(&prefix))
        .collect::<Vec<_>>()
        .join(" ")
}
