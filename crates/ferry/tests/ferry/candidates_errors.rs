//! `ferry candidates` errors that need no Prometheus: an unreachable server, and a server
//! that is not Prometheus. Each exits 1 with a message that names the server.

use std::process::Command;

use crate::support::servers;

fn candidates(url: &str) -> (Option<i32>, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["candidates", "--prometheus", url, "--timeout", "5s"])
        .output()
        .expect("running ferry");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_unreachable_prometheus_is_a_clear_error() {
    let url = format!("http://{}", servers::refused_address());
    let (code, stderr) = candidates(&url);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("Prometheus at {url} is unreachable")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_server_that_is_not_prometheus_is_named_as_such() {
    let url = format!(
        "http://{}",
        servers::start_server(servers::Behaviour::Plaintext)
    );
    let (code, stderr) = candidates(&url);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("is not the Prometheus API"), "{stderr}");
    assert!(
        stderr.contains("Hello, World!"),
        "the body is shown: {stderr}"
    );

    let url = format!(
        "http://{}",
        servers::start_server(servers::Behaviour::Status(401))
    );
    let (_, stderr) = candidates(&url);
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("--bearer-file"),
        "{stderr}"
    );
}
