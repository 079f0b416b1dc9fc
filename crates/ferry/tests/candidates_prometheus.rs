//! `ferry candidates` against a real Prometheus scraping the real Rust user-service and the
//! real Node baseline (on a throwaway embedded PostgreSQL) while ferry's load library sends
//! `/api/v1/process` and `GET /users/{id}` in phases of different mixes.
//!
//! Heavy (two services, ~1 minute of load): `#[ignore]`d, run by
//! `scripts/ci/prometheus.sh`. The error cases that need no Prometheus run by default.
//!
//! `/api/v1/process` must come out `cpu-bound`. On a machine whose CPU is contended (PSI
//! `some avg60` above 50%, as when other builds share the cores), run-queue wait counts as
//! latency for every route and no class holds: the test then prints the class without
//! checking it, and bounds Prometheus's p99 by ferry's (the client waits for a CPU too)
//! instead of matching them. The CPU per request is checked either way.
//!
//! Tolerances, and why:
//! - CPU per `/api/v1/process` request, ferry's regression against the test's own reading of
//!   `/proc/<pid>/stat` (utime + stime of the whole process tree, idle CPU subtracted) in
//!   the process-only phase: within 35%. The regression sees the same CPU through the
//!   services' own counters, but over 4 s rate windows that smear the phase edges, with
//!   scrapes (1 s apart) that do not line up with the phase boundaries, and with the
//!   intercept standing in for idle CPU; /proc ticks are 10 ms. On this shared 2-core
//!   machine the services' CPU per request also moves with contention (cache misses,
//!   frequency), and both figures see that.
//! - p99 of `/api/v1/process`, Prometheus's `histogram_quantile` against ferry's measured
//!   service-time p99 over the same requests: within a factor of 2.5. histogram_quantile
//!   interpolates linearly inside one bucket, and adjacent bucket bounds of both services'
//!   histograms are at most 2.5× apart (0.01 → 0.025 s), so a correct quantile can sit
//!   anywhere in that bucket; ferry also measures from the client (plus loopback).

mod prometheus;
mod workspace;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry::compare::database::Database;
use ferry::compare::targets::Running;
use ferry::load::{LoadSettings, Model, RateSchedule, Target};
use hdrhistogram::Histogram;

use prometheus::Prometheus;
use workspace::{launch, repo, tool, user_service};

const PHASE: Duration = Duration::from_secs(8);
/// Records per `/api/v1/process` batch: a few milliseconds of CPU in either service.
const BATCH_RECORDS: usize = 3000;

/// What both services get, as the default lab gives it: one database, one secret, a pool of
/// ten and two workers, warnings only; `{port}` is filled at each start.
fn service_env(database_url: &str) -> Vec<(String, String)> {
    [
        ("DATABASE_URL", database_url.to_string()),
        ("HOST", "127.0.0.1".to_string()),
        (
            "JWT_SECRET",
            "candidates-test-secret-of-at-least-32-bytes".to_string(),
        ),
        ("DB_POOL_SIZE", "10".to_string()),
        ("WORKERS", "2".to_string()),
        ("PORT", "{port}".to_string()),
        (
            "APP_CONFIG_DIR",
            repo().join("config").display().to_string(),
        ),
        // Request logging is not what is measured.
        ("APP_LOG__FILTER", "warn".to_string()),
        ("APP_LOG__FORMAT", "json".to_string()),
        ("LOG_LEVEL", "warn".to_string()),
        ("NODE_ENV", "production".to_string()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_string(), value))
    .collect()
}

/// A valid batch: every record passes validation, so the work is all computing.
fn batch(records: usize) -> String {
    let currencies = ["EUR", "USD", "GBP", "JPY"];
    let items: Vec<String> = (0..records)
        .map(|i| {
            format!(
                r#"{{"user_id":"{:08x}-0000-4000-8000-{:012x}","amount_cents":{},"currency":"{}","tags":["t{}","x"],"ts":"2024-03-{:02}T10:00:00Z"}}"#,
                i,
                i * 7919,
                (i * 104_729) % 1_000_000,
                currencies[i % 4],
                i % 5,
                1 + i % 28
            )
        })
        .collect();
    format!(r#"{{"records":[{}]}}"#, items.join(","))
}

/// Above this share of time with runnable tasks waiting for a CPU (Linux PSI, `some avg60`),
/// the machine is too contended for an absolute workload class: latency then includes
/// run-queue wait that no service metric can tell from waiting on I/O.
const CONTENDED_PRESSURE: f64 = 50.0;

/// `some avg60` of /proc/pressure/cpu, in percent; 0 where the kernel has no PSI.
fn cpu_pressure() -> f64 {
    std::fs::read_to_string("/proc/pressure/cpu")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|line| line.starts_with("some"))?;
            let field = line.split_whitespace().find(|f| f.starts_with("avg60="))?;
            field.trim_start_matches("avg60=").parse().ok()
        })
        .unwrap_or(0.0)
}

/// Every process of /proc: pid → (parent pid, utime + stime in seconds).
fn processes() -> BTreeMap<u32, (u32, f64)> {
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    let mut all = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").expect("reading /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command's closing parenthesis come state, ppid, …; utime and stime are
        // fields 14 and 15 of the whole line.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ppid: u32 = fields[1].parse().unwrap_or(0);
        let cpu =
            fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
        all.insert(pid, (ppid, cpu / ticks));
    }
    all
}

/// `pid` and all its descendants, with their CPU seconds.
fn tree(pid: u32) -> Vec<(u32, f64)> {
    let all = processes();
    all.iter()
        .filter(|(candidate, _)| {
            let mut walk = **candidate;
            while walk != 0 && walk != pid {
                walk = all.get(&walk).map_or(0, |(parent, _)| *parent);
            }
            walk == pid
        })
        .map(|(candidate, (_, cpu))| (*candidate, *cpu))
        .collect()
}

/// utime + stime of `pid` and all its descendants, in seconds.
fn tree_cpu_seconds(pid: u32) -> f64 {
    tree(pid).iter().map(|(_, cpu)| cpu).sum()
}

/// Runs this test thread, and so everything it starts afterwards (the database, both
/// services and their threads, Prometheus, the load threads: each inherits the nice value
/// of the thread that creates it), at the highest priority. The machine is shared with other
/// builds, and a request preempted by a compiler looks like a request that waits, which
/// would blur the very thing the test checks (how much of a request's time is CPU).
fn prioritise_this_thread() {
    let thread = nix::unistd::gettid().to_string();
    let status = Command::new("renice")
        .args(["-n", "-20", "-p", &thread])
        .stdout(std::process::Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("renice failed (not root?): the test runs at normal priority");
    }
}

/// One open-model stream of `target` at `rate` for the phase.
fn stream(target: Target, rate: f64) -> LoadSettings {
    let mut settings = LoadSettings::closed(&target.url, 8, PHASE);
    settings.targets = vec![target];
    settings.model = Model::Open {
        schedule: RateSchedule::parse(&format!("{rate}/s")).expect("a constant rate parses"),
        max_backlog: None,
    };
    settings.threads = 1;
    settings.progress = false;
    settings.seed = fastrand::u64(..);
    settings
}

struct Service {
    running: Running,
    process: Target,
    users: Target,
    /// ferry's service-time histogram of every `/api/v1/process` request.
    process_latency: Histogram<u64>,
    /// CPU seconds per `/api/v1/process` request from /proc, in the process-only phase.
    proc_cpu_per_process: f64,
    idle_cores: f64,
}

#[test]
#[ignore = "heavy: a real Prometheus, both services and a minute of load; scripts/ci/prometheus.sh runs it"]
fn candidates_ranks_and_classifies_both_services_from_prometheus() {
    prioritise_this_thread();
    let node_dir = repo().join("baselines/node");
    assert!(
        node_dir.join("node_modules").is_dir(),
        "run npm ci in baselines/node first"
    );
    // The dev build: `cargo test --workspace` has built it already, and what is measured
    // here is ferry's reading of the service, not the service's speed.
    let rust_bin = user_service(false);
    let work = std::env::temp_dir().join(format!("ferry-candidates-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    let mut database = Database::start(None).expect("the embedded PostgreSQL starts");
    let env = service_env(&database.url);
    tool(&rust_bin, &env, &["migrate"]);
    let ids_file = work.join("ids.txt");
    tool(
        &rust_bin,
        &env,
        &[
            "seed",
            "--users",
            "1000",
            "--ids-file",
            ids_file.to_str().unwrap(),
        ],
    );
    let token = tool(
        &rust_bin,
        &env,
        &["token", "--scope", "users:read", "--ttl", "1h"],
    )
    .trim()
    .to_string();
    let ids = ferry::load::target::read_values(&ids_file).unwrap();
    let body = batch(BATCH_RECORDS);

    let mut services: BTreeMap<&str, Service> = BTreeMap::new();
    let rust_argv = [rust_bin.to_str().expect("a UTF-8 target path"), "serve"];
    for (name, spec) in [
        ("rust", launch("rust", &rust_argv, &repo(), &env)),
        (
            "node",
            launch("node", &["node", "src/main.js"], &node_dir, &env),
        ),
    ] {
        let mut running = spec.spawn(&work.join(format!("{name}.log"))).unwrap();
        running.wait_ready().unwrap();
        let base = running.base_url();
        let mut process = Target::get(&format!("{base}/api/v1/process"));
        process.method = "POST".into();
        process.body = Some(body.clone());
        process.headers = vec![("content-type".into(), "application/json".into())];
        let mut users = Target::get(&format!("{base}/users/{{id}}"));
        users.headers = vec![("authorization".into(), format!("Bearer {token}"))];
        users.values.insert("id".into(), Arc::clone(&ids));
        services.insert(
            name,
            Service {
                running,
                process,
                users,
                process_latency: Histogram::new_with_bounds(1, 3_600_000_000, 3).unwrap(),
                proc_cpu_per_process: 0.0,
                idle_cores: 0.0,
            },
        );
    }
    let jobs: Vec<(&str, String)> = services
        .iter()
        .map(|(name, s)| (*name, format!("127.0.0.1:{}", s.running.port)))
        .collect();
    let prometheus = Prometheus::start(&jobs);
    let started = Instant::now();

    // Idle: the baseline CPU /proc sees with only the scrapes.
    let idle = Duration::from_secs(5);
    let before: BTreeMap<&str, f64> = services
        .iter()
        .map(|(n, s)| (*n, tree_cpu_seconds(s.running.pid())))
        .collect();
    std::thread::sleep(idle);
    for (name, service) in services.iter_mut() {
        service.idle_cores =
            (tree_cpu_seconds(service.running.pid()) - before[name]) / idle.as_secs_f64();
    }

    // Phases of different mixes (requests per second of process, users) so that the
    // regression can tell the routes apart.
    let phases = [(20.0, 0.0), (0.0, 150.0), (10.0, 150.0), (20.0, 75.0)];
    for (index, (process_rate, users_rate)) in phases.into_iter().enumerate() {
        let cpu_before: BTreeMap<&str, f64> = services
            .iter()
            .map(|(n, s)| (*n, tree_cpu_seconds(s.running.pid())))
            .collect();
        let phase_started = Instant::now();
        let results = std::thread::scope(|scope| {
            let mut handles = Vec::new();
            for (name, service) in &services {
                if process_rate > 0.0 {
                    let settings = stream(service.process.clone(), process_rate);
                    handles.push((
                        *name,
                        true,
                        scope.spawn(move || ferry::load::run(&settings)),
                    ));
                }
                if users_rate > 0.0 {
                    let settings = stream(service.users.clone(), users_rate);
                    handles.push((
                        *name,
                        false,
                        scope.spawn(move || ferry::load::run(&settings)),
                    ));
                }
            }
            handles
                .into_iter()
                .map(|(name, is_process, handle)| {
                    (name, is_process, handle.join().unwrap().unwrap())
                })
                .collect::<Vec<_>>()
        });
        let elapsed = phase_started.elapsed().as_secs_f64();
        for (name, is_process, result) in results {
            assert_eq!(
                result.totals.error_count, 0,
                "{name} phase {index}: {:?}",
                result.totals.errors
            );
            let service = services.get_mut(name).unwrap();
            if is_process {
                service
                    .process_latency
                    .add(result.histograms.service().unwrap())
                    .unwrap();
                if index == 0 {
                    let cpu = tree_cpu_seconds(service.running.pid()) - cpu_before[name];
                    service.proc_cpu_per_process =
                        (cpu - service.idle_cores * elapsed) / result.totals.responses as f64;
                }
            }
        }
    }
    // The last scrapes of the load.
    std::thread::sleep(Duration::from_secs(3));
    let window = started.elapsed().as_secs() - 1;

    let json = work.join("candidates.json");
    let targets_file = work.join("targets.json");
    let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["candidates", "--prometheus", &prometheus.url])
        .args([
            "--window",
            &format!("{window}s"),
            "--scrape-interval",
            "1s",
            "--step",
            "1s",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--write-targets")
        .arg(&targets_file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "ferry candidates failed:\n{}\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr),
        prometheus.log()
    );
    println!("{stdout}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let ranked = report["services"].as_array().unwrap();
    let names: Vec<&str> = ranked
        .iter()
        .map(|s| s["service"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        names.contains(&"rust") && names.contains(&"node"),
        "{names:?}"
    );
    let scores: Vec<f64> = ranked
        .iter()
        .map(|s| s["score"].as_f64().unwrap())
        .collect();
    assert!(scores[0] >= scores[1], "ranked by score: {scores:?}");

    let contended = cpu_pressure() > CONTENDED_PRESSURE;
    if contended {
        println!(
            "the machine's CPU is contended (PSI some avg60 above {CONTENDED_PRESSURE}%): the class is not checked"
        );
    }
    let mut failures = Vec::new();
    for entry in ranked {
        let name = entry["service"].as_str().unwrap();
        let service = &services[name];
        assert!(
            ["cpu-bound", "io-bound", "mixed"].contains(&entry["workload"].as_str().unwrap()),
            "{name}: {}",
            entry["workload"]
        );
        assert!(entry["cpu_cores"].as_f64().unwrap() > 0.0, "{name}");
        assert!(entry["rss_bytes"].as_f64().unwrap() > 1e6, "{name}");
        let fit = &entry["cpu_fit"];
        assert_eq!(fit["separable"], true, "{name}: {fit}");
        assert!(fit["r_squared"].as_f64().unwrap() >= 0.5, "{name}: {fit}");

        let route = |path: &str| {
            entry["routes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["route"] == path)
                .unwrap_or_else(|| panic!("{name}: no route {path} in {}", entry["routes"]))
        };
        let process = route("/api/v1/process");
        let users = route("/users/{id}");
        assert_eq!(process["method"], "POST");
        let process_share = process["cpu_share"].as_f64().unwrap();
        let users_share = users["cpu_share"].as_f64().unwrap_or(0.0);
        println!(
            "{name}: CPU share of /api/v1/process {:.0}%, of GET /users/{{id}} {:.0}%",
            process_share * 100.0,
            users_share * 100.0
        );
        if contended {
            println!(
                "{name}: /api/v1/process classed {} on a contended machine: not checked",
                process["workload"]
            );
        } else if process["workload"] != "cpu-bound" {
            failures.push(format!(
                "{name}: /api/v1/process is {}: {}",
                process["workload"], process["reason"]
            ));
        }

        let estimated = process["cpu_seconds_per_request"].as_f64().unwrap();
        let measured = service.proc_cpu_per_process;
        println!(
            "{name}: CPU per /api/v1/process: ferry candidates {:.3} ms, /proc {:.3} ms ({:+.0}%)",
            estimated * 1e3,
            measured * 1e3,
            (estimated / measured - 1.0) * 100.0
        );
        if (estimated - measured).abs() / measured > 0.35 {
            failures.push(format!(
                "{name}: CPU per batch {estimated} s, /proc {measured} s"
            ));
        }

        let prometheus_p99 = process["p99_seconds"].as_f64().unwrap();
        let ferry_p99 = service.process_latency.value_at_quantile(0.99) as f64 / 1e6;
        println!(
            "{name}: p99 of /api/v1/process: Prometheus {:.2} ms, ferry {:.2} ms",
            prometheus_p99 * 1e3,
            ferry_p99 * 1e3
        );
        // Contended, the client's own wait for a CPU adds to what it measures: the server's
        // time is then only bounded by it (within a bucket).
        let agrees = if contended {
            prometheus_p99 <= ferry_p99 * 2.5
        } else {
            (1.0 / 2.5..=2.5).contains(&(prometheus_p99 / ferry_p99))
        };
        if !agrees {
            failures.push(format!(
                "{name}: p99 {prometheus_p99} s in Prometheus, {ferry_p99} s in ferry"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // The target file loads with ferry's own loader once the values file is supplied, and
    // weights the top candidate's routes by their rates.
    std::fs::copy(&ids_file, work.join("id.txt")).unwrap();
    let written = ferry::load::target::load_target_file(&targets_file).unwrap();
    let by_name: BTreeMap<&str, u32> = written
        .iter()
        .map(|t| (t.name.as_str(), t.weight))
        .collect();
    assert!(
        by_name["GET /users/{id}"] > by_name["POST /api/v1/process"],
        "reads outnumber batches: {by_name:?}"
    );

    // Errors against the same Prometheus: each says what it looked for.
    let fails = |extra: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args([
                "candidates",
                "--prometheus",
                &prometheus.url,
                "--scrape-interval",
                "1s",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{extra:?} should fail");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let window_arg = format!("{window}s");
    let stderr = fails(&[
        "--window",
        &window_arg,
        "--cpu-metric",
        "no_such_cpu_seconds_total",
    ]);
    assert!(
        stderr.contains("no series no_such_cpu_seconds_total"),
        "{stderr}"
    );
    let stderr = fails(&["--window", &window_arg, "--service-label", "team"]);
    assert!(stderr.contains("no `team` label"), "{stderr}");
    let stderr = fails(&["--window", &window_arg, "--route-label", "handler"]);
    assert!(stderr.contains("no `handler` label"), "{stderr}");
    let stderr = fails(&["--window", &window_arg, "--duration-metric", "broken{"]);
    assert!(
        stderr.contains("HTTP 400") && stderr.contains("bad_data"),
        "{stderr}"
    );
    let stderr = fails(&["--window", "1h"]);
    assert!(stderr.contains("longer than the data"), "{stderr}");

    drop(prometheus);
    for (_, service) in services {
        service.running.stop().unwrap();
    }
    database.stop().unwrap();
    let _ = std::fs::remove_dir_all(&work);
}

/// `openssl` (the CLI) makes a CA and a server certificate for 127.0.0.1 signed by it.
fn certificates(
    dir: &std::path::Path,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
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

#[test]
#[ignore = "starts a real Prometheus; scripts/ci/prometheus.sh runs it"]
fn candidates_reaches_prometheus_over_https_with_basic_auth() {
    let dir = std::env::temp_dir().join(format!("ferry-candidates-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (ca, cert_pem, key_pem) = certificates(&dir);
    let password = format!("{:016x}", fastrand::u64(..));
    let password_file = dir.join("password");
    std::fs::write(&password_file, format!("{password}\n")).unwrap();
    let prometheus = Prometheus::start_secured(&prometheus::Secured {
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

    // Its own metrics stand in for a service's: the HTTP histogram is
    // prometheus_http_request_duration_seconds{handler}, statuses under `code`.
    let run = |extra: &[&str]| {
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
    };
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
