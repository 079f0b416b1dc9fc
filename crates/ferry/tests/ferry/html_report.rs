//! The HTML report opens in headless Chromium without console errors and shows its charts;
//! the screenshot is kept under target/test-artifacts/.

use std::process::Command;

use crate::support::{browser, servers};

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

#[test]
fn html_report_renders_in_chromium_without_console_errors() {
    let address = servers::start_server(servers::Behaviour::Plaintext);
    let url = servers::url(address);
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

    let dom = browser::render(&html, "ferry-report.png", "1400,2400");
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
