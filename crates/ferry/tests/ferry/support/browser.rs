//! Headless Chromium for the report tests: a screenshot kept as a test artifact, no
//! console message while rendering, and the DOM as Chromium built it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> &'static str {
    for candidate in ["chromium", "chromium-browser"] {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|output| output.status.success())
        {
            return candidate;
        }
    }
    panic!("headless Chromium is needed for this test: apt-get install -y chromium");
}

/// The flags this machine's closed network needs, and a fresh profile.
fn chromium_args(profile: &Path, window: &str) -> Vec<String> {
    [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .chain([
        format!("--window-size={window}"),
        format!("--user-data-dir={}", profile.display()),
    ])
    .collect()
}

/// target/test-artifacts, beside the binary cargo built (target/<profile>/ferry).
pub fn artifacts_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_ferry"))
        .parent()
        .and_then(Path::parent)
        .expect("cargo puts binaries in <target>/<profile>/")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("creating target/test-artifacts");
    dir
}

/// Renders `html` (a self-contained page: no script, no outside resource), keeps a
/// screenshot named `artifact`, fails on any console message, and returns the DOM.
pub fn render(html: &Path, artifact: &str, window: &str) -> String {
    let page = std::fs::read_to_string(html).expect("the report was written");
    assert!(!page.contains("<script"), "the report must need no script");
    assert!(!page.contains("src=\"http"), "no external resources");
    let browser = chromium();
    let scratch = html.with_extension("chromium");
    let file_url = format!("file://{}", html.display());
    let screenshot = artifacts_dir().join(artifact);
    let _ = std::fs::remove_file(&screenshot);

    let shot = Command::new(browser)
        .args(chromium_args(&scratch.join("profile-shot"), window))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(&file_url)
        .output()
        .expect("running chromium");
    let log = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "chromium failed: {log}");
    for line in log.lines() {
        assert!(
            !line.contains("CONSOLE") && !line.contains("Uncaught"),
            "console message while rendering the report: {line}"
        );
    }
    let size = std::fs::metadata(&screenshot).map_or(0, |meta| meta.len());
    assert!(
        size > 20_000,
        "screenshot {} is only {size} bytes",
        screenshot.display()
    );

    let dom = Command::new(browser)
        .args(chromium_args(&scratch.join("profile-dom"), window))
        .arg("--dump-dom")
        .arg(&file_url)
        .output()
        .expect("running chromium");
    assert!(dom.status.success(), "chromium --dump-dom failed");
    let _ = std::fs::remove_dir_all(&scratch);
    String::from_utf8_lossy(&dom.stdout).into_owned()
}
