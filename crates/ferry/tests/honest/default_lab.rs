//! Finding 10: with CARGO_TARGET_DIR set, as many Rust users have it, the default lab looked
//! for `target/release/user-service` and failed at its `migrate` step. It now asks Cargo.

use std::path::PathBuf;
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn binary_path(target_dir: Option<&str>, var: &str) -> String {
    let mut command = Command::new(repo().join("scripts/user-service-bin.sh"));
    command.arg(var).current_dir(repo());
    match target_dir {
        Some(dir) => command.env("CARGO_TARGET_DIR", dir),
        None => command.env_remove("CARGO_TARGET_DIR"),
    };
    let output = command
        .output()
        .expect("running scripts/user-service-bin.sh");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("a path in UTF-8")
        .trim()
        .to_string()
}

#[test]
fn the_default_lab_finds_its_binary_where_cargo_puts_it() {
    assert_eq!(
        binary_path(Some("/tmp/elsewhere"), "auto"),
        "/tmp/elsewhere/release/user-service"
    );
    let default = binary_path(None, "auto");
    assert!(default.ends_with("/release/user-service"), "{default}");
    // The var still wins when a run gives the binary itself.
    assert_eq!(binary_path(Some("/tmp/elsewhere"), "/opt/us"), "/opt/us");
    let lab = std::fs::read_to_string(repo().join("ferry-lab.toml")).unwrap();
    assert!(
        !lab.contains("target/release"),
        "the default lab names no fixed target directory"
    );
}

fn plan(scenarios: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["compare", "--plan", "--scenarios", scenarios])
        .current_dir(repo())
        .output()
        .expect("running the ferry binary cargo built for this test")
}

#[test]
fn scenarios_runs_a_subset_and_keeps_what_it_is_relative_to() {
    let output = plan("get-user-burst");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("`get-user-burst` runs relative to `get-user`, which is left out"),
        "{stderr}"
    );
    let output = plan("nope");
    assert!(String::from_utf8_lossy(&output.stderr).contains("no scenario `nope`"));
    let output = plan("get-user,get-user-burst");
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("scenario get-user-burst"), "{stdout}");
    assert!(!stdout.contains("scenario post-user"), "{stdout}");
}
