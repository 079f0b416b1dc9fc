//! TLS everywhere ferry sends (issue 20), against Debian's nginx serving HTTPS on loopback
//! with a CA the test makes with openssl: `ferry load`'s `--cacert`, `--insecure`, client
//! certificates, `--http2`, `--tls-handshake-per-request` and session resumption, and
//! `ferry compare` labs whose targets are reached over HTTPS. No speed is asserted.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::support::peers::{self, Nginx, Scratch, make_pki};

/// An HTTPS server block answering 200 with a short body; `extra` adds directives.
fn https_server(extra: &str) -> String {
    format!(
        "listen 127.0.0.1:PORT ssl; ssl_certificate PKI/server.pem;
         ssl_certificate_key PKI/server.key; {extra}
         location / {{ return 200 'hello'; }}"
    )
}

/// A scratch folder with the test's CA and certificates in it.
fn pki(name: &str) -> Scratch {
    let scratch = Scratch::new(name);
    make_pki(&scratch.0);
    scratch
}

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .output()
        .expect("running the ferry binary cargo built for this test")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ferry load -q -t 1 -c 2 -n REQUESTS` with `args`, against `url`; the run's JSON.
fn load(scratch: &Scratch, requests: u64, args: &[&str], url: &str) -> (Output, Option<Value>) {
    let json = scratch.join("run.json");
    let _ = std::fs::remove_file(&json);
    let json_text = json.display().to_string();
    let requests = requests.to_string();
    let mut all = vec![
        "load", "-t", "1", "-c", "2", "-n", &requests, "--json", &json_text,
    ];
    all.extend_from_slice(args);
    all.push(url);
    let output = ferry(&all);
    let result = std::fs::read_to_string(&json)
        .ok()
        .map(|text| serde_json::from_str(&text).expect("the run JSON parses"));
    (output, result)
}

fn path(scratch: &Scratch, name: &str) -> String {
    scratch.join(name).display().to_string()
}

#[test]
fn cacert_verifies_the_server_and_the_run_records_what_was_agreed() {
    let scratch = pki("cacert");
    let nginx = Nginx::start(&scratch.0, &scratch.0, &https_server(""));
    let cacert = path(&scratch, "ca.pem");
    let (output, run) = load(&scratch, 300, &["--cacert", &cacert], &nginx.url());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let run = run.expect("a run that finished writes its JSON");
    let tls = &run["settings"]["tls"];
    assert!(
        ["TLSv1.3", "TLSv1.2"].contains(&tls["version"].as_str().unwrap_or_default()),
        "{tls}"
    );
    assert!(
        tls["cipher_suite"].as_str().is_some_and(|s| !s.is_empty()),
        "{tls}"
    );
    assert_eq!(tls["alpn"], "http/1.1");
    assert_eq!(tls["insecure"], false);
    assert_eq!(tls["handshake_per_request"], false);
    let totals = &run["totals"];
    assert_eq!(totals["responses"], 300);
    assert_eq!(totals["status"]["200"], 300);
    // Keep-alive: each of the 2 connections was opened, and shook hands, once.
    assert_eq!(totals["connects"], 2, "{totals}");
    assert_eq!(totals["handshakes"], 2, "{totals}");
    assert!(
        totals["connect_time_us_mean"].as_f64().is_some(),
        "{totals}"
    );
    assert!(
        totals["handshake_time_us_mean"].as_f64().is_some(),
        "{totals}"
    );
    assert!(!text(&output.stdout).contains("INSECURE"));

    // Plaintext runs record no TLS, and no handshake time rather than a 0.
    let plain = Nginx::start(
        &scratch.0,
        &scratch.0,
        "listen 127.0.0.1:PORT; location / { return 200 'hello'; }",
    );
    let url = format!("http://127.0.0.1:{}/", plain.port);
    let (output, run) = load(&scratch, 50, &[], &url);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let run = run.expect("a run that finished writes its JSON");
    assert!(run["settings"]["tls"].is_null());
    assert_eq!(run["totals"]["handshakes"], 0);
    assert!(run["totals"]["handshake_time_us_mean"].is_null());
    // TLS options make no sense for plaintext, and are refused rather than ignored.
    let (output, _) = load(&scratch, 10, &["--cacert", &cacert], &url);
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn a_wrong_ca_is_one_line_naming_the_host_and_the_reason() {
    let scratch = pki("wrong-ca");
    let nginx = Nginx::start(&scratch.0, &scratch.0, &https_server(""));
    for args in [
        vec!["--cacert".to_string(), path(&scratch, "other-ca.pem")],
        vec![],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (output, run) = load(&scratch, 10, &args, &nginx.url());
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(run.is_none(), "nothing is measured, nothing written");
        let stderr = text(&output.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("127.0.0.1"), "{stderr}");
        assert!(stderr.contains("unknown issuer"), "{stderr}");
    }
}

#[test]
fn insecure_skips_verification_and_every_report_says_so() {
    let scratch = pki("insecure");
    let nginx = Nginx::start(&scratch.0, &scratch.0, &https_server(""));
    let (output, run) = load(&scratch, 100, &["--insecure"], &nginx.url());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let header: Vec<&str> = stdout.lines().take(4).collect();
    assert!(
        header.iter().any(|line| line.contains("INSECURE")),
        "{stdout}"
    );
    let run = run.expect("a run that finished writes its JSON");
    assert_eq!(run["settings"]["tls"]["insecure"], true);
    assert_eq!(run["totals"]["status"]["200"], 100);
}

#[test]
fn a_client_certificate_nginx_requires_is_sent_with_cert_and_key() {
    let scratch = pki("mtls");
    let required = https_server("ssl_client_certificate PKI/ca.pem; ssl_verify_client on;");
    let nginx = Nginx::start(&scratch.0, &scratch.0, &required);
    let cacert = path(&scratch, "ca.pem");
    let (cert, key) = (path(&scratch, "client.pem"), path(&scratch, "client.key"));
    let with = ["--cacert", &cacert, "--cert", &cert, "--key", &key];
    let (output, run) = load(&scratch, 100, &with, &nginx.url());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let run = run.expect("a run that finished writes its JSON");
    assert_eq!(run["totals"]["status"]["200"], 100, "{}", run["totals"]);

    // Without one, nginx refuses every request (400), and ferry says why.
    let (output, run) = load(&scratch, 20, &["--cacert", &cacert], &nginx.url());
    let run = run.expect("a run that finished writes its JSON");
    assert!(
        run["totals"]["status"]["200"].is_null(),
        "{}",
        run["totals"]
    );
    assert_eq!(run["totals"]["errors"]["status_4xx"], 20);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("asked for a client certificate"),
        "{stderr}"
    );

    // A certificate that is not its key's is refused before anything is sent.
    let other_key = path(&scratch, "server.key");
    let mismatched = ["--cacert", &cacert, "--cert", &cert, "--key", &other_key];
    let (output, _) = load(&scratch, 10, &mismatched, &nginx.url());
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("does not match"));
}

#[test]
fn http2_over_tls_is_agreed_by_alpn_or_the_run_stops() {
    let scratch = pki("h2");
    let h2 = Nginx::start(
        &scratch.0,
        &scratch.0,
        &https_server("").replace(" ssl;", " ssl http2;"),
    );
    let cacert = path(&scratch, "ca.pem");
    let (output, run) = load(&scratch, 100, &["--cacert", &cacert, "--http2"], &h2.url());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let run = run.expect("a run that finished writes its JSON");
    assert_eq!(run["settings"]["tls"]["alpn"], "h2");
    assert_eq!(run["totals"]["status"]["200"], 100, "{}", run["totals"]);

    let h1_only = Nginx::start(&scratch.0, &scratch.0, &https_server(""));
    let (output, run) = load(
        &scratch,
        10,
        &["--cacert", &cacert, "--http2"],
        &h1_only.url(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(run.is_none());
    assert!(
        text(&output.stderr).contains("ALPN"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn sessions_resume_by_default_and_not_with_a_handshake_per_request() {
    let scratch = pki("resumption");
    // nginx closes each connection after 5 requests: ferry reconnects, and resumes.
    let nginx = Nginx::start(
        &scratch.0,
        &scratch.0,
        &https_server("keepalive_requests 5;"),
    );
    let cacert = path(&scratch, "ca.pem");
    let (output, run) = load(&scratch, 200, &["--cacert", &cacert], &nginx.url());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let run = run.expect("a run that finished writes its JSON");
    assert_eq!(run["totals"]["status"]["200"], 200, "{}", run["totals"]);
    let handshakes = run["totals"]["handshakes"].as_u64().unwrap_or_default();
    assert!((40..=42).contains(&handshakes), "{}", run["totals"]);
    let reuse = nginx.session_reuse();
    assert!(reuse.iter().any(|entry| entry == "r"), "{reuse:?}");

    let fresh = Nginx::start(&scratch.0, &scratch.0, &https_server(""));
    let args = ["--cacert", &cacert, "--tls-handshake-per-request"];
    let (output, run) = load(&scratch, 150, &args, &fresh.url());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let run = run.expect("a run that finished writes its JSON");
    let totals = &run["totals"];
    assert_eq!(totals["error_count"], 0, "{totals}");
    assert_eq!(totals["requests"], 150);
    assert_eq!(totals["handshakes"], totals["requests"], "{totals}");
    assert_eq!(totals["connects"], totals["requests"], "{totals}");
    assert_eq!(run["settings"]["tls"]["handshake_per_request"], true);
    let reuse = fresh.session_reuse();
    // The run's own first handshake, then one per request, none resumed.
    assert!(reuse.len() >= 150, "{}", reuse.len());
    assert!(reuse.iter().all(|entry| entry == "."), "{reuse:?}");
}

/// A lab of two nginx ferry starts, each with `[target.tls]` `tls` (a TOML table body).
fn nginx_lab(scratch: &Scratch, tls: &str) -> std::path::PathBuf {
    let server = https_server("").replace("PKI", &scratch.0.display().to_string());
    let template = format!(
        "daemon off; master_process off; pid OUT/PORT.pid; error_log stderr;
         events {{ worker_connections 256; }}
         http {{ access_log off; client_body_temp_path OUT; proxy_temp_path OUT;
           fastcgi_temp_path OUT; uwsgi_temp_path OUT; scgi_temp_path OUT;
           server {{ {server} }} }}"
    );
    std::fs::write(scratch.join("nginx.conf.template"), template).expect("writing the template");
    let nginx = peers::nginx_binary();
    let start = format!(
        "sed -e 's|OUT|{{out}}|g' -e 's|PORT|{{port}}|g' '{{dir}}/nginx.conf.template' \
         > '{{out}}/{{port}}.conf' && exec {} -p '{{out}}' -c '{{out}}/{{port}}.conf' -e stderr",
        nginx.display()
    );
    let mut lab = String::from("name = \"nginx over TLS\"\n");
    for (name, role) in [("first", "baseline"), ("second", "candidate")] {
        lab.push_str(&format!(
            "\n[[target]]\nname = \"{name}\"\nrole = \"{role}\"\nstart = [\"sh\", \"-c\", \
             {start:?}]\nready = \"/\"\n\n[target.tls]\n{tls}\n"
        ));
    }
    lab.push_str(
        "\n[[scenario]]\nname = \"get\"\nrequest = \"GET /\"\nconnections = 4\nduration = \"1s\"\n",
    );
    let file = scratch.join("lab.toml");
    std::fs::write(&file, lab).expect("writing the lab");
    file
}

fn compare(lab: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["compare", "--lab"];
    let (lab, out) = (lab.display().to_string(), out.display().to_string());
    args.extend([lab.as_str(), "--out", &out, "--no-progress"]);
    args.extend_from_slice(extra);
    ferry(&args)
}

#[test]
fn a_lab_of_two_started_targets_runs_over_https_end_to_end() {
    let scratch = pki("lab");
    let lab = nginx_lab(&scratch, "cacert = \"ca.pem\"");
    let out = scratch.join("out");
    let quick = [
        "--quick",
        "--rounds",
        "1",
        "--cold-starts",
        "1",
        "--warmup",
        "0.2s",
    ];
    let output = compare(&lab, &out, &quick);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("compare.json")).expect("compare.json is written"),
    )
    .expect("compare.json parses");
    for target in report["targets"].as_array().expect("targets[]") {
        let url = target["url"].as_str().unwrap_or_default();
        assert!(url.starts_with("https://127.0.0.1:"), "{url}");
        let round = &target["scenarios"][0]["rounds"][0]["result"];
        assert_eq!(round["settings"]["tls"]["insecure"], false);
        assert_eq!(round["totals"]["error_count"], 0, "{}", round["totals"]);
        assert!(round["totals"]["responses"].as_u64() > Some(0));
        assert!(round["totals"]["handshakes"].as_u64() > Some(0));
    }
    assert!(!text(&output.stdout).contains("INSECURE"));

    // A CA that signed nothing: the first cold start's first contact stops the run.
    std::fs::copy(scratch.join("other-ca.pem"), scratch.join("ca.pem")).expect("copying");
    let out = scratch.join("out-wrong-ca");
    let output = compare(&lab, &out, &quick);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown issuer"), "{stderr}");
    let report = std::fs::read_to_string(out.join("compare.json")).expect("partial report");
    let report: Value = serde_json::from_str(&report).expect("compare.json parses");
    assert!(report["targets"][0]["cold_start"].is_null(), "{report}");
}

#[test]
fn the_plan_refuses_a_missing_cacert_before_anything_starts() {
    let scratch = pki("plan");
    let lab = nginx_lab(&scratch, "cacert = \"missing-ca.pem\"");
    let out = scratch.join("out");
    let output = compare(&lab, &out, &["--plan"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("target.first.tls.cacert"), "{stderr}");
    assert!(stderr.contains("missing-ca.pem does not exist"), "{stderr}");
    assert!(!out.exists(), "nothing was started or written");

    // A client certificate that is not its key's is refused the same way.
    let lab = nginx_lab(&scratch, "cert = \"client.pem\"\nkey = \"server.key\"");
    let output = compare(&lab, &out, &["--plan"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("does not match"),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn an_attached_https_target_is_contacted_before_setup() {
    let scratch = pki("attached");
    let nginx = Nginx::start(&scratch.0, &scratch.0, &https_server(""));
    let lab = format!(
        "name = \"attached\"\n\n[[setup]]\nname = \"marker\"\nrun = [\"touch\", \"{{out}}/setup-ran\"]\n\n\
         [[target]]\nname = \"nginx\"\nrole = \"baseline\"\nurl = \"https://127.0.0.1:{}\"\npid = {}\n\n\
         [target.tls]\ncacert = \"other-ca.pem\"\n\n\
         [[scenario]]\nname = \"get\"\nrequest = \"GET /\"\nconnections = 2\nduration = \"1s\"\n",
        nginx.port,
        nginx.pid()
    );
    let file = scratch.join("attached.toml");
    std::fs::write(&file, lab).expect("writing the lab");
    let out = scratch.join("out");
    let output = compare(&file, &out, &["--quick"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("target nginx") && stderr.contains("unknown issuer"),
        "{stderr}"
    );
    assert!(
        !out.join("setup-ran").exists(),
        "setup ran before the contact"
    );
}
