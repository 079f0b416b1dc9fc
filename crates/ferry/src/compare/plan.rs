//! What a comparison will do and about how long it takes, from the lab and the settings
//! alone: printed before a run starts, and by `--plan` instead of running.

use std::fmt::Write;
use std::time::Duration;

use super::lab::{Lab, TargetKind, rate};
use super::reset;
use super::settings::CompareSettings;

/// A guess at one cold start, for the estimate only.
const COLD_START_GUESS: Duration = Duration::from_secs(1);
/// A guess at starting the embedded PostgreSQL and at `pgbench -i`, likewise.
const DATABASE_GUESS: Duration = Duration::from_secs(3);

/// The steps the progress bar counts.
pub fn steps(lab: &Lab, settings: &CompareSettings) -> u64 {
    let targets = lab.targets.len() as u64;
    let started = started(lab) as u64;
    let capacity = lab.scenarios.iter().filter(|s| s.capacity).count() as u64;
    u64::from(lab.database.is_some()) * 2
        + lab.setup.len() as u64
        + started * u64::from(settings.cold_starts)
        + lab.scenarios.len() as u64 * u64::from(settings.rounds) * targets
        + capacity * u64::from(settings.capacity_probes) * targets
        + u64::from(settings.long_run.is_some()) * targets
}

fn started(lab: &Lab) -> usize {
    lab.targets
        .iter()
        .filter(|t| matches!(t.kind, TargetKind::Started { .. }))
        .count()
}

/// The measured length of one run of each scenario (a rate schedule's own length).
fn run_length(lab: &Lab, settings: &CompareSettings, index: usize) -> Duration {
    let scenario = &lab.scenarios[index];
    let own = settings.scenario_duration(scenario.duration);
    scenario
        .rate
        .as_deref()
        .and_then(|text| {
            rate::resolve(text, Some(1000.0), settings.stretch(scenario.duration)).ok()
        })
        .and_then(|text| crate::load::RateSchedule::parse(&text).ok())
        .and_then(|schedule| schedule.natural_duration())
        .unwrap_or(own)
}

/// The plan as text, and the estimated wall time (setup steps and builds not counted).
pub fn describe(lab: &Lab, settings: &CompareSettings) -> (String, Duration) {
    let mut out = String::new();
    let mut total = Duration::ZERO;
    let targets = lab.targets.len() as u32;
    let _ = writeln!(out, "Plan of lab `{}` ({}):", lab.name, lab.file.display());
    for target in &lab.targets {
        let how = match &target.kind {
            TargetKind::Started {
                container: Some(spec),
                ..
            } => format!(
                "started by ferry as a container of {} at {} CPU / {}",
                spec.image, spec.cpus, spec.memory
            ),
            TargetKind::Started { .. } => "started by ferry".to_string(),
            TargetKind::Attached { url, .. } => format!("already running at {url} (no cold start)"),
            TargetKind::Remote { url, machine, .. } => {
                format!("on {machine} at {url}, measured by its metrics (no cold start)")
            }
        };
        let _ = writeln!(
            out,
            "  target {:<16} {:<9} {how}",
            target.name,
            format!("{:?}", target.role).to_lowercase()
        );
    }
    if lab.database.is_some() {
        let _ = writeln!(
            out,
            "  database: an embedded PostgreSQL shared by every target (or DATABASE_URL)"
        );
        total += DATABASE_GUESS;
    }
    if !lab.setup.is_empty() {
        let names: Vec<&str> = lab.setup.iter().map(|s| s.name.as_str()).collect();
        let _ = writeln!(out, "  setup: {} (not in the estimate)", names.join(", "));
    }
    let cold = COLD_START_GUESS * settings.cold_starts * started(lab) as u32;
    if started(lab) > 0 {
        let _ = writeln!(
            out,
            "  cold start: {} start(s) of each started target, alternated",
            settings.cold_starts
        );
        total += cold + Duration::from_secs(1);
    }
    for target in lab.targets.iter().filter(|t| !t.after_start.is_empty()) {
        let names: Vec<&str> = target.after_start.iter().map(|s| s.name.as_str()).collect();
        let _ = writeln!(
            out,
            "  after start of {}: {} (after it is up and each restart; not in the estimate)",
            target.name,
            names.join(", ")
        );
    }
    for step in &lab.background {
        let _ = writeln!(
            out,
            "  background: {} (from the targets' start to the end of the run)",
            step.name
        );
    }
    for (index, scenario) in lab.scenarios.iter().enumerate() {
        let length = run_length(lab, settings, index);
        let each = settings.warmup + length;
        let _ = writeln!(
            out,
            "  scenario {:<16} {} round(s) × {targets} target(s) × ({:.1} s warm-up + {:.1} s){}{}",
            scenario.name,
            settings.rounds,
            settings.warmup.as_secs_f64(),
            length.as_secs_f64(),
            scenario
                .rate
                .as_deref()
                .map(|r| format!(", open model `{r}`"))
                .unwrap_or_default(),
            match scenario.idle_connections {
                0 => String::new(),
                idle => format!(", {idle} idle connection(s) held open"),
            }
        );
        total += each * settings.rounds * targets;
    }
    for scenario in lab.scenarios.iter().filter(|s| s.capacity) {
        let probe = settings.warmup.min(Duration::from_secs(1)) + settings.probe_duration;
        let _ = writeln!(
            out,
            "  capacity of {:<13} {} probe(s) × {targets} target(s) × {:.1} s, at p99 ≤ {} ms",
            scenario.name,
            settings.capacity_probes,
            probe.as_secs_f64(),
            lab.slo.p99.as_secs_f64() * 1000.0
        );
        total += probe * settings.capacity_probes * targets;
    }
    if let (Some(long), Some(first)) = (settings.long_run, lab.scenarios.first()) {
        let _ = writeln!(
            out,
            "  long run: {} for {:.0} s on each target",
            first.name,
            long.as_secs_f64()
        );
        total += (settings.warmup + long) * targets;
    }
    if lab.database.is_some() {
        total += describe_resets(&mut out, lab, settings);
    }
    if let (Some(spec), Some(duration)) = (&lab.database, settings.pgbench_duration)
        && spec.pgbench
    {
        let runs = spec.pgbench_clients.len() as u32;
        let clients: Vec<String> = spec.pgbench_clients.iter().map(u32::to_string).collect();
        let _ = writeln!(
            out,
            "  reference: pgbench -S for {:.0} s at {} client(s), the best kept",
            duration.as_secs_f64(),
            clients.join(", ")
        );
        total += duration * runs + DATABASE_GUESS;
    }
    let _ = writeln!(
        out,
        "Estimated wall time: {} (plus setup steps).",
        format_wall(total)
    );
    (out, total)
}

/// The database resets' line of the plan, and their time.
fn describe_resets(out: &mut String, lab: &Lab, settings: &CompareSettings) -> Duration {
    match reset::planned(lab, settings) {
        reset::Planned::Off(why) => {
            let _ = writeln!(out, "  database reset: off ({why})");
            Duration::ZERO
        }
        reset::Planned::On { resets, at_most } => {
            // A restarted target's warm-up is at least RESTART_WARMUP.
            let each = reset::RESET_GUESS + reset::RESTART_WARMUP.saturating_sub(settings.warmup);
            let _ = writeln!(
                out,
                "  database reset: {}{resets} (targets stopped, databases restored from a copy \
                 taken after setup, the measured target restarted and warmed up for at least \
                 {:.0} s), about {:.0} s each",
                if at_most { "at most " } else { "" },
                reset::RESTART_WARMUP.as_secs_f64(),
                each.as_secs_f64()
            );
            each * resets
        }
    }
}

fn format_wall(duration: Duration) -> String {
    let seconds = duration.as_secs();
    if seconds >= 60 {
        format!("{} min {:02} s", seconds / 60, seconds % 60)
    } else {
        format!("{seconds} s")
    }
}
