//! `ferry compare`: the targets of a lab (`lab`), measured the same way under the same load,
//! one at a time; results as a markdown matrix with a verdict, JSON and one HTML page.
//!
//! [`run`] goes through the phases of [`phases::Run`]. Whatever happens, the targets and the
//! database started here are stopped, and what was measured is written.

mod after_start;
mod background;
mod bring_up;
pub mod capacity;
pub mod cold_start;
pub mod compare_json;
pub mod container;
pub mod cost;
pub mod database;
pub mod flow_summary;
pub mod gate;
pub mod html_report;
pub mod idle;
pub mod lab;
pub mod live;
pub mod matrix;
mod oom;
pub mod pgbench;
mod phases;
pub mod plan;
pub mod remote_metrics;
pub mod requests;
pub mod reset;
mod run_progress;
pub mod sampler;
pub mod scenarios;
pub mod secrets;
pub mod settings;
pub mod setup;
pub mod targets;
pub mod verdict;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

pub use compare_json::CompareReport;
pub use settings::CompareSettings;

use compare_json::{CostSection, LabRecord, RunRecord, TargetReport};
use lab::{Lab, TargetKind, builtin};
use phases::Run;
use run_progress::RunProgress;

/// Where the outputs went.
pub struct Outputs {
    pub report: CompareReport,
    pub json: PathBuf,
    pub html: PathBuf,
    /// The matrix and the verdict.
    pub markdown: String,
}

/// The name of this machine, for reports that name where each target ran.
pub fn machine_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "this machine".into())
}

fn empty_report(lab: &Lab, settings: &CompareSettings) -> CompareReport {
    let machine = machine_name();
    CompareReport {
        schema_version: compare_json::SCHEMA_VERSION,
        ferry_version: env!("CARGO_PKG_VERSION").into(),
        started_at_unix_ms: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_millis() as u64),
        wall_time_s: 0.0,
        command: settings.command_line.clone(),
        cores: crate::load::settings::default_threads(),
        machine: machine.clone(),
        database: None,
        lab: LabRecord {
            name: lab.name.clone(),
            description: lab.description.clone(),
            file: lab.file.display().to_string(),
            vars: lab.typed_vars.clone(),
            slo_p99_ms: lab.slo.p99.as_secs_f64() * 1000.0,
            slo_error_ratio: lab.slo.error_ratio,
        },
        settings: RunRecord {
            duration_s: settings.duration.map(|d| d.as_secs_f64()),
            warmup_s: settings.warmup.as_secs_f64(),
            rounds: settings.rounds,
            cold_starts: settings.cold_starts,
            capacity_probes: settings.capacity_probes,
            probe_duration_s: settings.probe_duration.as_secs_f64(),
            target_rps: settings.target_rps,
            long_run_s: settings.long_run.map(|d| d.as_secs_f64()),
            database_reset: Default::default(),
        },
        targets: lab
            .targets
            .iter()
            .map(|target| TargetReport {
                name: target.name.clone(),
                role: target.role,
                kind: target.kind.label().into(),
                url: None,
                machine: match &target.kind {
                    TargetKind::Remote { machine, .. } => machine.clone(),
                    _ => machine.clone(),
                },
                cold_start: None,
                container: match &target.kind {
                    TargetKind::Started {
                        container: Some(spec),
                        ..
                    } => Some(compare_json::ContainerReport {
                        image: spec.image.clone(),
                        cpus: spec.cpus,
                        memory: spec.memory.clone(),
                        engine: settings.engine.clone().unwrap_or_default(),
                    }),
                    _ => None,
                },
                scenarios: Vec::new(),
                long_run: None,
                pgbench_fraction: None,
            })
            .collect(),
        cost: CostSection {
            target_rps: settings.target_rps,
            ..Default::default()
        },
        pgbench: None,
        notes: vec![
            "The load generator runs on the same machine as the started targets (and the database); \
             only one target is under load at a time (the others idle)."
                .into(),
        ],
        complete: false,
        failure: None,
        baseline: None,
    }
}

/// Runs the whole comparison. On failure the partial results are still written and the
/// error names where.
pub fn run(lab: &Lab, settings: &CompareSettings, stop: Arc<AtomicBool>) -> Result<Outputs> {
    run_gated(lab, settings, stop, &gate::GateOptions::default())
}

/// [`run`], then the gate of `options` (`--baseline`) on what was measured, before any report
/// is written, so that each carries it; and `--markdown`'s file, partial results included.
pub fn run_gated(
    lab: &Lab,
    settings: &CompareSettings,
    stop: Arc<AtomicBool>,
    options: &gate::GateOptions,
) -> Result<Outputs> {
    let clock = Instant::now();
    let logs = settings.out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let mut values: BTreeMap<String, String> = lab.vars.clone();
    values.insert(builtin::DIR.into(), lab.dir.display().to_string());
    values.insert(builtin::OUT.into(), settings.out.display().to_string());
    values.insert(
        builtin::CORES.into(),
        crate::load::settings::default_threads().to_string(),
    );
    let mask = secrets::Mask::default();
    mask.learn(&lab.secrets, &values);
    let mut run = Run {
        lab,
        settings,
        stop,
        progress: RunProgress::new(settings.progress, plan::steps(lab, settings), mask.clone()),
        mask: mask.clone(),
        report: empty_report(lab, settings),
        logs,
        values,
        database: None,
        live: Vec::new(),
        prepared: Vec::new(),
        resets: Default::default(),
        background: Vec::new(),
    };
    let outcome = run.phases();

    run.progress.phase("stopping the targets and the database…");
    for background in run.background.drain(..) {
        if let Err(error) = background.stop() {
            run.report.notes.push(format!("{error:#}"));
        }
    }
    for live in run.live.drain(..) {
        if let Some(running) = live.running
            && let Err(error) = running.stop()
        {
            run.report
                .notes
                .push(format!("stopping {}: {error:#}", live.name));
        }
    }
    if let Some(mut database) = run.database.take()
        && let Err(error) = database.stop()
    {
        run.report.notes.push(format!("{error:#}"));
    }
    run.progress.finish();

    let mut report = run.report;
    let gated = gate::apply(options, &mut report);
    let outcome = outcome.and(gated);
    report.wall_time_s = clock.elapsed().as_secs_f64();
    report.complete = outcome.is_ok();
    report.failure = outcome.as_ref().err().map(|error| format!("{error:#}"));
    mask_report(&mut report, &mask);
    let json = settings.out.join("compare.json");
    let html = settings.out.join("compare.html");
    report.write_json(&json)?;
    std::fs::write(&html, mask.apply(&html_report::render(&report)))
        .with_context(|| format!("writing {}", html.display()))?;
    let summary = summary_markdown(&report);
    if let Some(path) = &options.markdown {
        let text = mask.apply(&gate::markdown::comment(&summary, report.baseline.as_ref()));
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let markdown = mask.apply(&gate::markdown::terminal(
        &summary,
        report.baseline.as_ref(),
    ));
    let outcome = outcome.map_err(|error| anyhow::anyhow!(mask.apply(&format!("{error:#}"))));
    match outcome {
        Ok(()) => Ok(Outputs {
            report,
            json,
            html,
            markdown,
        }),
        Err(error) => Err(error.context(format!(
            "the comparison did not finish; partial results in {} and {}",
            json.display(),
            html.display()
        ))),
    }
}

/// The report with every secret masked: its text fields through the mask, and the secret vars
/// shown as `***` whatever their type.
fn mask_report(report: &mut CompareReport, mask: &secrets::Mask) {
    if mask.is_empty() {
        return;
    }
    let masked = serde_json::to_string(report)
        .ok()
        .map(|text| mask.apply(&text))
        .and_then(|text| serde_json::from_str(&text).ok());
    match masked {
        Some(masked) => *report = masked,
        // A mask that breaks the JSON (a secret that is a JSON keyword or number) would hide
        // the report itself: drop the fields that can hold a secret instead.
        None => {
            report.command = secrets::MASKED.into();
            report.failure = report.failure.as_ref().map(|_| secrets::MASKED.into());
            report.notes.clear();
        }
    }
}

/// The matrix, the verdict and the notes, as markdown.
pub fn summary_markdown(report: &CompareReport) -> String {
    let mut out = report
        .insecure_header()
        .map(|line| format!("**{line}**\n\n"))
        .unwrap_or_default();
    out.push_str(&matrix::render_markdown(report));
    // The same text `ferry cost compare.json` prints, from the report's own cost section.
    if let Some(priced) = cost::as_cost_report(&report.cost) {
        let _ = write!(out, "\n**Cost**\n\n```\n{}```\n", priced.render_text());
    }
    if let Some(pgbench) = &report.pgbench {
        let _ = writeln!(
            out,
            "\nDatabase ceiling (`pgbench -S -M prepared`, {} clients, {:.0} s): {}.",
            pgbench.clients,
            pgbench.duration_s,
            matrix::rate(pgbench.tps)
        );
    }
    let (findings, overall) = verdict::verdict(report);
    out.push_str("\n**Verdict**\n\n");
    for finding in &findings {
        let _ = writeln!(out, "- {}", finding.sentence);
    }
    for line in &overall {
        let _ = writeln!(out, "\n{line}");
    }
    out.push_str("\nNotes:\n");
    for note in &report.notes {
        let _ = writeln!(out, "- {note}");
    }
    out
}
