//! `ferry shadow` on bad input: a malformed request line (its number reported, exit 1),
//! binary bodies, bodies over the limit (compared by digest), a target that goes away in
//! the middle of the run (errors counted for it, not a crash), a target unreachable from the
//! start (exit 1), and the other request sources (HAR, access log, target file). HTTPS
//! targets (nginx with a CA the test makes): `--cacert` works, a wrong CA stops the run with
//! one line naming the host and the reason, `--insecure` works and every report says so, and
//! `--cert`/`--key` reach a candidate that requires a client certificate.

use crate::support::peers;
use crate::support::shadow_servers::{
    self, Flavour, regressions, replay_args, scratch, shadow, start, url, write_requests,
};

fn three(candidate: Flavour) -> (String, String, String) {
    (
        url(start(Flavour::Old)),
        url(start(Flavour::Old)),
        url(start(candidate)),
    )
}

#[test]
fn a_malformed_line_stops_the_run_with_its_number() {
    let (primary, secondary, candidate) = three(Flavour::Old);
    let requests = write_requests(
        "malformed.txt",
        &[
            "GET /users/1".into(),
            "# fine".into(),
            "GET".into(),
            "GET /users/2".into(),
        ],
    );
    let json = scratch("malformed.json");
    let requests_arg = requests.display().to_string();
    let (output, report) = shadow(
        &replay_args(&primary, Some(&secondary), &candidate, &requests_arg, &[]),
        &json,
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 3"), "{stderr}");
    assert!(report.is_none(), "no run was made");
}

#[test]
fn binary_and_oversized_bodies_are_compared_without_being_held() {
    let (primary, secondary, equal) = three(Flavour::Old);
    let different = url(start(Flavour::Different));
    let lines: Vec<String> = (0..6)
        .flat_map(|n| [format!("GET /blob/{n}"), format!("GET /big/{n}")])
        .collect();
    let requests = write_requests("bodies.txt", &lines);
    let requests_arg = requests.display().to_string();
    let json = scratch("bodies.json");
    let run = |candidate: &str| {
        shadow(
            &replay_args(
                &primary,
                Some(&secondary),
                candidate,
                &requests_arg,
                &["--body-limit", "65536"],
            ),
            &json,
        )
    };
    let (output, report) = run(&equal);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(regressions(&report.expect("the report is written")).is_empty());

    let (output, report) = run(&different);
    assert_eq!(output.status.code(), Some(4));
    let report = report.expect("the report is written");
    assert_eq!(
        regressions(&report),
        [
            (
                "GET /big/{id}".to_string(),
                "body".to_string(),
                "value".to_string()
            ),
            (
                "GET /blob/{id}".to_string(),
                "body".to_string(),
                "value".to_string()
            ),
        ]
    );
    let big = report["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|endpoint| endpoint["endpoint"] == "GET /big/{id}")
        .unwrap();
    let example = &big["regressions"][0]["examples"][0];
    // Over the limit: a digest and the length, and only the head of the body shown.
    assert_eq!(example["primary"]["body_bytes"], shadow_servers::BIG_BODY);
    assert_eq!(example["primary"]["body_truncated"], true);
    assert_eq!(
        example["primary"]["body_sha256"].as_str().unwrap().len(),
        64
    );
    assert_ne!(
        example["primary"]["body_sha256"],
        example["candidate"]["body_sha256"]
    );
}

#[test]
fn a_target_that_goes_away_is_counted_not_a_crash() {
    let (primary, secondary, _) = three(Flavour::Old);
    let lines: Vec<String> = (1..=100).map(|id| format!("GET /orders/{id}")).collect();
    let requests = write_requests("gone.txt", &lines);
    let requests_arg = requests.display().to_string();
    let json = scratch("gone.json");
    let run = |candidate: &str| {
        shadow(
            &replay_args(
                &primary,
                Some(&secondary),
                candidate,
                &requests_arg,
                &["-c", "1", "--timeout", "5s"],
            ),
            &json,
        )
    };
    // Gone after 95 requests: 5 % errors, under the 10 % that fails a run.
    let (output, report) = run(&url(start(Flavour::GoneAfter(95))));
    let report = report.expect("the report is written");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert_eq!(
        report["errors"]["candidate"]["errors"], 5,
        "{}",
        report["errors"]
    );
    assert_eq!(report["errors"]["primary"]["errors"], 0);
    assert_eq!(report["requests"]["compared"], 95);
    assert!(String::from_utf8_lossy(&output.stdout).contains("candidate 5 ("));
    // Gone after half: the run could not be made, and the report says why.
    let (output, report) = run(&url(start(Flavour::GoneAfter(50))));
    let report = report.expect("the report is written");
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(report["errors"]["candidate"]["errors"], 50);
    assert!(
        report["failure"]
            .as_str()
            .unwrap()
            .contains("candidate gave no response to 50 of 100")
    );
}

#[test]
fn an_unreachable_target_stops_the_run() {
    let (primary, secondary, _) = three(Flavour::Old);
    // A port nothing listens on: bind one, then free it.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let requests = write_requests("unreachable.txt", &["GET /health".into()]);
    let requests_arg = requests.display().to_string();
    let (output, _) = shadow(
        &replay_args(&primary, Some(&secondary), &url(free), &requests_arg, &[]),
        &scratch("unreachable.json"),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("candidate"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn har_access_log_and_target_file_sources_replay() {
    let (primary, secondary, candidate) = three(Flavour::Different);
    let har = scratch("source.har");
    std::fs::write(
        &har,
        r#"{"log": {"version": "1.2", "entries": [
          {"request": {"method": "GET", "url": "https://api.example.com/users/1", "headers": [{"name": "Accept", "value": "application/json"}]}},
          {"request": {"method": "GET", "url": "https://api.example.com/orders/2", "headers": []}}]}}"#,
    )
    .unwrap();
    let log = scratch("source.log");
    std::fs::write(
        &log,
        "10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] \"GET /users/3 HTTP/1.1\" 200 80 \"-\" \"curl/8\"\n\
         10.0.0.1 - - [01/Dec/2026:10:00:01 +0000] \"POST /users HTTP/1.1\" 201 80 \"-\" \"curl/8\"\n",
    )
    .unwrap();
    let ids = scratch("ids.txt");
    std::fs::write(&ids, "5\n6\n7\n").unwrap();
    let targets = scratch("targets.json");
    std::fs::write(
        &targets,
        format!(
            r#"{{"values": {{"id": "{}"}}, "requests": [{{"url": "/users/{{id}}"}}, {{"url": "/health"}}]}}"#,
            ids.display()
        ),
    )
    .unwrap();
    for (source, expected_endpoint) in [
        (&har, "GET /users/{id}"),
        (&log, "GET /users/{id}"),
        (&targets, "GET /users/{id}"),
    ] {
        let source_arg = source.display().to_string();
        let (output, report) = shadow(
            &replay_args(
                &primary,
                Some(&secondary),
                &candidate,
                &source_arg,
                &["--count", "20"],
            ),
            &scratch("source.json"),
        );
        assert_eq!(
            output.status.code(),
            Some(4),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report = report.expect("the report is written");
        assert!(
            regressions(&report).contains(&(
                expected_endpoint.to_string(),
                "body.email".to_string(),
                "value".to_string()
            )),
            "{}: {:?}",
            source.display(),
            regressions(&report)
        );
    }
}

#[test]
fn https_targets_with_cacert_a_wrong_ca_and_insecure() {
    let pki = peers::Scratch::new("shadow");
    peers::make_pki(&pki.0);
    let nginx = peers::Nginx::start(
        &pki.0,
        &pki.0,
        "listen 127.0.0.1:PORT ssl; ssl_certificate PKI/server.pem;
         ssl_certificate_key PKI/server.key; default_type application/json;
         location / { return 200 '{\"ok\":true}'; }",
    );
    let https = format!("https://127.0.0.1:{}", nginx.port);
    let requests = write_requests("tls.txt", &["GET /a".into(), "GET /b/c".into()]);
    let requests = requests.to_str().unwrap();
    let json = shadow_servers::scratch("tls.json");
    let file = |name: &str| pki.join(name).display().to_string();

    let args = replay_args(
        &https,
        None,
        &https,
        requests,
        &["--cacert", &file("ca.pem")],
    );
    let (output, report) = shadow(&args, &json);
    let stderr = String::from_utf8_lossy(&output.stderr).to_string();
    assert!(output.status.success(), "{stderr}");
    let report = report.expect("a report");
    assert_eq!(report["requests"]["compared"], 2, "{report}");
    assert_eq!(report["errors"]["candidate"]["errors"], 0, "{report}");
    assert_eq!(report["insecure"], false);

    // A CA that signed nothing, and none at all (the Mozilla roots): one line, exit 1.
    for extra in [vec!["--cacert".to_string(), file("other-ca.pem")], vec![]] {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let args = replay_args(&https, None, &https, requests, &extra);
        let (output, report) = shadow(&args, &json);
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(report.is_none(), "no run, no report");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("127.0.0.1"), "{stderr}");
        assert!(stderr.contains("unknown issuer"), "{stderr}");
    }

    let html = shadow_servers::scratch("tls.html");
    let html_path = html.display().to_string();
    let args = replay_args(
        &https,
        None,
        &https,
        requests,
        &["--insecure", "--html", &html_path],
    );
    let (output, report) = shadow(&args, &json);
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(output.status.success(), "{stdout}");
    let report = report.expect("a report");
    assert_eq!(report["insecure"], true);
    assert_eq!(report["requests"]["compared"], 2, "{report}");
    // The header: the second line of the terminal report, and above the HTML summary.
    let header = stdout.lines().nth(1).unwrap_or_default();
    assert!(header.contains("--insecure"), "{stdout}");
    let page = std::fs::read_to_string(&html).expect("the HTML report is written");
    let note = page
        .find("--insecure")
        .expect("the HTML report says --insecure");
    assert!(
        note < page.find("<table>").expect("a summary table"),
        "{page}"
    );
}

#[test]
fn a_candidate_requiring_a_client_certificate_gets_cert_and_key() {
    let pki = peers::Scratch::new("shadow-mtls");
    peers::make_pki(&pki.0);
    let server = |extra: &str| {
        format!(
            "listen 127.0.0.1:PORT ssl; ssl_certificate PKI/server.pem;
             ssl_certificate_key PKI/server.key; default_type application/json; {extra}
             location / {{ return 200 '{{\"ok\":true}}'; }}"
        )
    };
    let primary = peers::Nginx::start(&pki.0, &pki.0, &server(""));
    let candidate = peers::Nginx::start(
        &pki.0,
        &pki.0,
        &server("ssl_client_certificate PKI/ca.pem; ssl_verify_client on;"),
    );
    let (primary, candidate) = (
        format!("https://127.0.0.1:{}", primary.port),
        format!("https://127.0.0.1:{}", candidate.port),
    );
    let requests = write_requests("mtls.txt", &["GET /a".into()]);
    let requests = requests.to_str().unwrap();
    let json = shadow_servers::scratch("mtls.json");
    let file = |name: &str| pki.join(name).display().to_string();
    let (cacert, cert, key) = (file("ca.pem"), file("client.pem"), file("client.key"));

    // Without a client certificate nginx refuses the candidate's requests (400): a regression.
    let args = replay_args(&primary, None, &candidate, requests, &["--cacert", &cacert]);
    let (output, report) = shadow(&args, &json);
    assert_eq!(output.status.code(), Some(4), "{output:?}");
    let report = report.expect("a report");
    assert!(
        regressions(&report)
            .iter()
            .any(|(_, field, _)| field == "status"),
        "{report}"
    );

    let with = ["--cacert", cacert.as_str(), "--cert", &cert, "--key", &key];
    let args = replay_args(&primary, None, &candidate, requests, &with);
    let (output, report) = shadow(&args, &json);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(regressions(&report.expect("a report")), vec![]);
}
