//! The HTML report opens in headless Chromium without console errors and shows its charts;
//! the screenshot is kept under target/test-artifacts/.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn ferry(args: &[&str]) {
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("running the ferry binary cargo built for this test");
    assert!(
        output.status.success(),
        "ferry {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// target/test-artifacts, beside the binary cargo built (target/<profile>/ferry).
fn artifacts_dir() -> PathBuf {
    let binary = Path::new(env!("CARGO_BIN_EXE_ferry"));
    let target = binary
        .parent()
        .and_then(Path::parent)
        .expect("cargo puts binaries in <target>/<profile>/");
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

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

fn chromium_args(profile: &Path) -> Vec<String> {
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
        "--window-size=1400,2400",
    ]
    .iter()
    .map(|arg| arg.to_string())
    .chain([format!("--user-data-dir={}", profile.display())])
    .collect()
}

#[test]
fn html_report_renders_in_chromium_without_console_errors() {
    let browser = chromium();
    let address = support::start_server(support::Behaviour::Plaintext);
    let url = support::url(address);
    let dir = std::env::temp_dir().join(format!("ferry-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let closed = dir.join("closed.json");
    let open = dir.join("open.json");
    ferry(&[
        "load",
        "-q",
        "-c",
        "4",
        "-t",
        "1",
        "-d",
        "2s",
        "--json",
        closed.to_str().unwrap(),
        &url,
    ]);
    ferry(&[
        "load",
        "-q",
        "--rate",
        "500",
        "-d",
        "3s",
        "-c",
        "4",
        "--json",
        open.to_str().unwrap(),
        &url,
    ]);
    let html = dir.join("report.html");
    ferry(&[
        "report",
        closed.to_str().unwrap(),
        open.to_str().unwrap(),
        "--html",
        html.to_str().unwrap(),
    ]);

    let page = std::fs::read_to_string(&html).unwrap();
    assert!(!page.contains("<script"), "the report must need no script");
    assert!(
        !page.contains("http://") || !page.contains("src=\"http"),
        "no external resources"
    );

    let file_url = format!("file://{}", html.display());
    let screenshot = artifacts_dir().join("ferry-report.png");
    let _ = std::fs::remove_file(&screenshot);

    let shot = Command::new(browser)
        .args(chromium_args(&dir.join("profile-shot")))
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(&file_url)
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&shot.stderr);
    assert!(shot.status.success(), "chromium failed: {log}");
    for line in log.lines() {
        assert!(
            !line.contains("CONSOLE") && !line.contains("Uncaught"),
            "console message while rendering the report: {line}"
        );
    }
    let size = std::fs::metadata(&screenshot)
        .map(|meta| meta.len())
        .unwrap_or(0);
    assert!(
        size > 20_000,
        "screenshot {} is only {size} bytes",
        screenshot.display()
    );

    // The DOM as Chromium built it holds every chart, with its lines drawn.
    let dom = Command::new(browser)
        .args(chromium_args(&dir.join("profile-dom")))
        .arg("--dump-dom")
        .arg(&file_url)
        .output()
        .unwrap();
    assert!(dom.status.success());
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), 4, "four charts");
    assert!(
        dom.matches("<polyline").count() >= 8,
        "every chart has its lines"
    );
    for title in [
        "Latency by percentile",
        "Latency over time",
        "Responses per second",
        "Errors and dropped",
    ] {
        assert!(dom.contains(title), "missing chart {title}");
    }
}
