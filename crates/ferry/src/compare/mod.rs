//! `ferry compare`: the Rust service against the Node.js baseline on the same database, with
//! the same load, measured the same way; results as a markdown matrix, JSON and one HTML page.
//!
//! Phases: build, database (migrate, seed, token), cold start, the scenarios alternated
//! A B A B, capacity at the SLO, the `pgbench` reference, the report. Whatever happens, the
//! targets and the database started here are stopped, and what was measured is written.

pub mod batch;
pub mod capacity;
pub mod cold_start;
pub mod cost;
pub mod database;
pub mod html;
pub mod lab;
pub mod matrix;
pub mod pgbench;
mod progress;
pub mod sampler;
pub mod scenarios;
pub mod settings;
pub mod targets;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use crate::load::{Model, RateSchedule};

pub use matrix::CompareReport;
pub use settings::CompareSettings;

use database::Database;
use matrix::{ScenarioReport, SettingsRecord, TargetReport};
use progress::Progress;
use scenarios::{Inputs, Scenario};
use targets::{Running, TargetSpec};

/// Where the outputs went.
pub struct Outputs {
    pub report: CompareReport,
    pub json: PathBuf,
    pub html: PathBuf,
    pub markdown: String,
}

/// What must be stopped at the end, whatever happened.
#[derive(Default)]
struct Started {
    database: Option<Database>,
    targets: Vec<Running>,
}

/// Runs the whole comparison. On failure the partial results are still written and the
/// error names where.
pub fn run(settings: &CompareSettings, stop: Arc<AtomicBool>) -> Result<Outputs> {
    let clock = Instant::now();
    let logs = settings.out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let started_at_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let mut report = CompareReport {
        schema_version: matrix::SCHEMA_VERSION,
        ferry_version: env!("CARGO_PKG_VERSION").into(),
        started_at_unix_ms,
        wall_time_s: 0.0,
        command: settings.command_line.clone(),
        cores: crate::load::settings::default_threads(),
        database: String::new(),
        settings: SettingsRecord {
            users: settings.users,
            duration_s: settings.duration.as_secs_f64(),
            warmup_s: settings.warmup.as_secs_f64(),
            rounds: settings.rounds,
            connections: settings.connections,
            pool_size: settings.pool_size,
            workers: settings.workers,
            slo_p99_ms: settings.slo_p99.as_secs_f64() * 1000.0,
            slo_error_ratio: settings.slo_errors,
            target_rps: settings.target_rps,
            process_records: settings.process_records,
            burst_schedule: None,
        },
        targets: Vec::new(),
        pgbench: None,
        consolidation_ratio: None,
        notes: vec![
            "The load generator runs on the same machine as the targets and the database; \
             only one target is under load at a time (the other idles)."
                .into(),
        ],
        complete: false,
        failure: None,
    };
    let progress = Progress::new(settings.progress, planned_steps(settings));
    let mut started = Started::default();
    let outcome = phases(settings, &stop, &progress, &mut report, &mut started, &logs);

    progress.phase("stopping the targets and the database…");
    for running in started.targets.drain(..) {
        let name = running.name.clone();
        if let Err(error) = running.stop() {
            report.notes.push(format!("stopping {name}: {error:#}"));
        }
    }
    if let Some(mut database) = started.database.take()
        && let Err(error) = database.stop()
    {
        report.notes.push(format!("{error:#}"));
    }
    progress.finish();

    report.wall_time_s = clock.elapsed().as_secs_f64();
    report.complete = outcome.is_ok();
    report.failure = outcome.as_ref().err().map(|error| format!("{error:#}"));
    let json = settings.out.join("compare.json");
    let html_path = settings.out.join("compare.html");
    report.write_json(&json)?;
    std::fs::write(&html_path, html::render(&report))
        .with_context(|| format!("writing {}", html_path.display()))?;
    let markdown = matrix::render_markdown(&report);
    match outcome {
        Ok(()) => Ok(Outputs {
            report,
            json,
            html: html_path,
            markdown,
        }),
        Err(error) => Err(error.context(format!(
            "the comparison did not finish; partial results in {} and {}",
            json.display(),
            html_path.display()
        ))),
    }
}

fn planned_steps(settings: &CompareSettings) -> u64 {
    let targets = if settings.no_node { 1 } else { 2 };
    let per_target = u64::from(settings.cold_starts)
        + Scenario::ALL.len() as u64 * u64::from(settings.rounds)
        + u64::from(settings.capacity_probes);
    4 + targets * per_target + 1
}

fn check(stop: &AtomicBool) -> Result<()> {
    if stop.load(Ordering::Relaxed) {
        bail!("interrupted (Ctrl-C)");
    }
    Ok(())
}

fn phases(
    settings: &CompareSettings,
    stop: &Arc<AtomicBool>,
    progress: &Progress,
    report: &mut CompareReport,
    started: &mut Started,
    logs: &Path,
) -> Result<()> {
    // Node first: missing Node.js is a note, not a failure.
    let node_dir = settings.node_dir.clone();
    let with_node = if settings.no_node {
        report.notes.push("--no-node: the Rust side alone.".into());
        false
    } else if let Some(version) = targets::node_version() {
        if !node_dir.join("src/main.js").is_file() {
            bail!(
                "the Node.js baseline is not at {} (no src/main.js); pass --node-dir or --no-node",
                node_dir.display()
            );
        }
        if !node_dir.join("node_modules").is_dir() {
            progress.phase("npm ci in the Node baseline (node_modules is missing)…");
        }
        if targets::npm_ci_if_needed(&node_dir, &logs.join("npm-ci.log"))? {
            progress.note("ran npm ci in the Node baseline");
        }
        report.notes.push(format!("Node.js {version}."));
        true
    } else {
        let note = "Node.js is not installed (`node` is not on PATH): running the Rust side alone.";
        progress.note(note);
        report.notes.push(note.into());
        false
    };
    progress.advance();

    let rust_bin = match &settings.rust_bin {
        Some(path) => {
            if !path.is_file() {
                bail!("--rust-bin {} is not a file", path.display());
            }
            path.clone()
        }
        None => {
            progress.phase("building user-service (release)…");
            targets::build_rust(&settings.repo, &logs.join("cargo-build.log"))?
        }
    };
    progress.advance();
    check(stop)?;

    progress.phase("starting PostgreSQL…");
    let database = started
        .database
        .insert(Database::start(settings.database_url.as_deref())?);
    report.database = database.description.clone();
    let jwt_secret = format!("{:032x}", fastrand::u128(..));
    let env = targets::common_env(
        &database.url,
        &jwt_secret,
        settings.pool_size,
        settings.workers,
    );
    let rust_spec = TargetSpec::rust(&rust_bin, &settings.repo, env.clone());
    progress.advance();

    progress.phase(format!("migrating and seeding {} users…", settings.users));
    let tool_log = logs.join("user-service-tools.log");
    run_tool(&rust_spec, &["migrate"], &tool_log)?;
    let ids_file = settings.out.join("ids.txt");
    run_tool(
        &rust_spec,
        &[
            "seed",
            "--users",
            &settings.users.to_string(),
            "--ids-file",
            &ids_file.display().to_string(),
        ],
        &tool_log,
    )?;
    let token = run_tool(
        &rust_spec,
        &["token", "--scope", "users:read users:write", "--ttl", "6h"],
        &tool_log,
    )?
    .trim()
    .to_string();
    let ids = crate::load::target::read_values(&ids_file)?;
    let process_body = batch::process_batch(settings.process_records);
    std::fs::write(settings.out.join("process-batch.json"), &process_body)
        .context("writing the process batch")?;
    let inputs = Inputs {
        ids,
        token,
        process_body,
    };
    progress.advance();
    check(stop)?;

    let mut specs = Vec::new();
    if with_node {
        specs.push(TargetSpec::node(&node_dir, env.clone()));
    }
    specs.push(rust_spec);
    for spec in &specs {
        report.targets.push(TargetReport {
            name: spec.name.clone(),
            cold_start: None,
            scenarios: Vec::new(),
            capacity: None,
            instances: None,
            pgbench_fraction: None,
        });
    }

    let (cold, running) =
        cold_start::measure(&specs, settings.cold_starts, logs, |name, round| {
            progress.phase(format!(
                "cold start: {name} {round}/{}",
                settings.cold_starts
            ));
            progress.advance();
        })?;
    started.targets = running;
    for (target, cold) in report.targets.iter_mut().zip(cold) {
        progress.note(format!(
            "cold start {}: median {:.0} ms, max {:.0} ms, idle RSS {:.1} MiB",
            target.name,
            cold.median_ms,
            cold.max_ms,
            cold.idle_rss_bytes as f64 / 1_048_576.0
        ));
        target.cold_start = Some(cold);
    }
    check(stop)?;

    let mut burst: Option<RateSchedule> = None;
    for (scenario_index, scenario) in Scenario::ALL.into_iter().enumerate() {
        if scenario == Scenario::GetUserBurst {
            // Scaled to the machine: from the slower target's closed-model throughput, so the
            // burst is meaningful for both.
            let slowest = report
                .targets
                .iter()
                .filter_map(|t| t.scenario(Scenario::GetUser.key()))
                .map(|s| s.summary.throughput_rps)
                .fold(f64::INFINITY, f64::min);
            let slowest = if slowest.is_finite() && slowest > 0.0 {
                slowest
            } else {
                1000.0
            };
            let steps = settings.burst_steps(slowest);
            report.settings.burst_schedule = Some(scenarios::schedule_text(&steps));
            burst = Some(scenarios::burst_schedule(&steps)?);
        }
        for round in 1..=settings.rounds {
            for (target_index, running) in started.targets.iter().enumerate() {
                progress.phase(format!(
                    "{}: {} round {round}/{}",
                    scenario.key(),
                    running.name,
                    settings.rounds
                ));
                let seed = started_seed(
                    report.started_at_unix_ms,
                    scenario_index,
                    round,
                    target_index,
                );
                let load = scenarios::load_settings(
                    scenario,
                    &running.base_url(),
                    &inputs,
                    settings,
                    burst.as_ref(),
                    seed,
                )?;
                let run = scenarios::run_round(&load, running.pid(), round, stop.clone())
                    .with_context(|| format!("{} against {}", scenario.key(), running.name))?;
                let totals = &run.result.totals;
                progress.note(format!(
                    "{:<15} {:<4} round {round}: {:>9.0} req/s  p99 {:>8}  errors {}  CPU {:.0}%  RSS {:.1} MiB",
                    scenario.key(),
                    running.name,
                    totals.throughput_rps,
                    crate::units::format_micros(run.result.latency.corrected.p99_us as f64),
                    totals.error_count + totals.dropped,
                    run.cpu_mean_percent,
                    run.rss_peak_bytes as f64 / 1_048_576.0
                ));
                let target = &mut report.targets[target_index];
                let index = match target
                    .scenarios
                    .iter()
                    .position(|s| s.scenario == scenario.key())
                {
                    Some(index) => index,
                    None => {
                        target.scenarios.push(ScenarioReport {
                            scenario: scenario.key().into(),
                            title: scenario.title().into(),
                            summary: Default::default(),
                            rounds: Vec::new(),
                        });
                        target.scenarios.len() - 1
                    }
                };
                let entry = &mut target.scenarios[index];
                entry.rounds.push(run);
                entry.summary = scenarios::summarise_rounds(&entry.rounds)?;
                progress.advance();
                check(stop)?;
            }
        }
    }

    for (target_index, running) in started.targets.iter().enumerate() {
        let own = report.targets[target_index]
            .scenario(Scenario::GetUser.key())
            .map_or(1000.0, |s| s.summary.throughput_rps.max(10.0));
        let mut probe_number = 0;
        let capacity = capacity::search(
            own * 0.1,
            own * 1.5,
            settings.capacity_probes,
            settings.slo_p99.as_micros() as u64,
            settings.slo_errors,
            |rate| {
                probe_number += 1;
                progress.phase(format!(
                    "capacity: {} probe {probe_number}/{} at {rate:.0}/s",
                    running.name, settings.capacity_probes
                ));
                check(stop)?;
                let mut load = scenarios::load_settings(
                    Scenario::GetUser,
                    &running.base_url(),
                    &inputs,
                    settings,
                    None,
                    started_seed(report.started_at_unix_ms, 9, probe_number, target_index),
                )?;
                load.model = Model::Open {
                    schedule: RateSchedule::constant(rate),
                    max_backlog: None,
                };
                load.connections = settings.connections * 2;
                load.duration = Some(settings.probe_duration);
                load.warmup = settings.warmup.min(Duration::from_secs(1));
                let result = crate::load::run_until_stopped(&load, stop.clone())?;
                progress.advance();
                Ok(result)
            },
        )?;
        let verdict = capacity.rate_rps.map_or_else(
            || format!("below {:.0}/s", capacity.low_rps),
            |rate| format!("{rate:.0}/s"),
        );
        progress.note(format!(
            "capacity {} at p99 ≤ {} ms: {verdict}",
            running.name, report.settings.slo_p99_ms
        ));
        let target = &mut report.targets[target_index];
        target.instances = cost::instances(settings.target_rps, capacity.rate_rps);
        target.capacity = Some(capacity);
        check(stop)?;
    }
    report.consolidation_ratio = cost::consolidation_ratio(
        report.target("node").and_then(|t| t.instances),
        report.target("rust").and_then(|t| t.instances),
    );

    if let Some(duration) = settings.pgbench_duration {
        progress.phase("pgbench -S on the same database…");
        let database = started
            .database
            .as_ref()
            .context("the database was started above")?;
        match pgbench::run(
            database,
            settings.pgbench_scale,
            duration,
            &logs.join("pgbench.log"),
        ) {
            Ok(result) => {
                progress.note(format!("pgbench -S: {:.0} tps", result.tps));
                for target in &mut report.targets {
                    target.pgbench_fraction = target
                        .scenario(Scenario::GetUser.key())
                        .map(|s| s.summary.throughput_rps / result.tps.max(1.0));
                }
                report.pgbench = Some(result);
            }
            Err(error) => {
                let note = format!("pgbench reference skipped: {error:#}");
                progress.note(&note);
                report.notes.push(note);
            }
        }
    }
    progress.advance();
    Ok(())
}

/// A seed of its own for every run, so that generated emails never repeat across runs.
fn started_seed(started_at: u64, scenario: usize, round: u32, target: usize) -> u64 {
    started_at
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(((scenario as u64) << 40) | (u64::from(round) << 20) | target as u64)
}

/// Runs a `user-service` subcommand with the targets' environment; returns its stdout.
fn run_tool(spec: &TargetSpec, args: &[&str], log: &Path) -> Result<String> {
    let output = Command::new(&spec.program)
        .args(args)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(name, value)| (name, value)))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {} {}", spec.program.display(), args[0]))?;
    {
        use std::io::Write;
        if let Ok(mut file) = std::fs::File::options().create(true).append(true).open(log) {
            let _ = writeln!(file, "$ user-service {}", args[0]);
            let _ = file.write_all(&output.stderr);
        }
    }
    if !output.status.success() {
        bail!(
            "user-service {} failed ({}): {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
