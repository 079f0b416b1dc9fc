//! `ferry candidates` against a Prometheus behind https with basic auth: its own metrics
//! stand in for a service's; without credentials or without the private CA, it fails
//! saying why.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::prometheus::{Prometheus, Secured};

/// `openssl` (the CLI) makes a CA and a server certificate for 127.0.0.1 signed by it.
fn certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(&[
        &["req", "-x509"][..],
        &ec,
        &[
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=ferry test CA",
        ],
    ]
    .concat());
    run(&[
        &["req"][..],
        &ec,
        &[
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ],
    ]
    .concat());
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "1",
        "-extfile",
        "server.ext",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

/// A Prometheus on https with a CA made here and basic auth, busy long enough to have
/// samples for a 4 s window: it, its CA and the password file.
fn secured_prometheus(dir: &Path) -> (Prometheus, PathBuf, PathBuf) {
    let (ca, cert_pem, key_pem) = certificates(dir);
    let password = format!("{:016x}", fastrand::u64(..));
    let password_file = dir.join("password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let prometheus = Prometheus::start_secured(&Secured {
        cert_pem,
        key_pem,
        user: "ferry".into(),
        password,
    });
    assert!(prometheus.url.starts_with("https://"));
    // Prometheus scrapes itself: enough samples for a 4 s window. An idle Prometheus can
    // use less than one 10 ms CPU tick in 4 s (CI saw a CPU of 0), so it answers queries
    // meanwhile, each over a new TLS connection.
    let busy_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < busy_until {
        let status = Command::new("curl")
            .args(["-sk", "-o", "/dev/null", "-u"])
            .arg(format!(
                "ferry:{}",
                std::fs::read_to_string(&password_file).unwrap().trim()
            ))
            .arg(format!("{}/api/v1/query?query=up", prometheus.url))
            .status()
            .unwrap();
        assert!(status.success());
    }
    (prometheus, ca, password_file)
}

/// `ferry candidates` on the last 4 s of `prometheus` with `extra` arguments. Its own
/// metrics stand in for a service's: the HTTP histogram is
/// prometheus_http_request_duration_seconds{handler}, statuses under `code`.
fn candidates(prometheus: &Prometheus, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args([
            "candidates",
            "--prometheus",
            &prometheus.url,
            "--window",
            "4s",
            "--scrape-interval",
            "1s",
        ])
        .args([
            "--duration-metric",
            "prometheus_http_request_duration_seconds",
        ])
        .args(["--route-label", "handler", "--status-label", "code"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
#[ignore = "starts a real Prometheus; scripts/ci/prometheus.sh runs it"]
fn candidates_reaches_prometheus_over_https_with_basic_auth() {
    let dir = std::env::temp_dir().join(format!("ferry-candidates-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (prometheus, ca, password_file) = secured_prometheus(&dir);
    let run = |extra: &[&str]| candidates(&prometheus, extra);
    let ca = ca.to_str().unwrap();
    let password_file = password_file.to_str().unwrap();
    let json = dir.join("candidates.json");
    let output = run(&[
        "--ca-file",
        ca,
        "--basic-user",
        "ferry",
        "--password-file",
        password_file,
        "--json",
        json.to_str().unwrap(),
    ]);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        prometheus.log()
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["services"][0]["service"], "prometheus", "{report}");
    assert!(report["services"][0]["cpu_cores"].as_f64().unwrap() > 0.0);
    assert!(
        report["services"][0]["routes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["route"] == "/metrics")
    );

    // No credentials: the server's 401, and what to pass (`--cacert` is `--ca-file`).
    let output = run(&["--cacert", ca]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("HTTP 401") && stderr.contains("--basic-user"),
        "{stderr}"
    );
    // The private CA not trusted: the certificate is refused.
    let output = run(&["--basic-user", "ferry", "--password-file", password_file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("unreachable") && stderr.to_lowercase().contains("certificate"),
        "{stderr}"
    );
    drop(prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}
