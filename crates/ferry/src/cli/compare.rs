//! `ferry compare`: the command line of [`ferry::compare`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use ferry::compare::gate::{Baseline, GateOptions, parse_threshold};
use ferry::compare::lab::{self, Lab, LoadOptions};
use ferry::compare::settings::{defaults, quick, thorough};
use ferry::compare::{self, CompareSettings, plan};
use ferry::units::parse_duration;

const COMPARE_HELP: &str = "\
WHAT IT DOES
  Runs a lab file (--lab FILE; without it, the nearest ferry-lab.toml in the current directory or
  above): its database and setup steps, then every target one at a time under identical load.
  1. database: an embedded PostgreSQL shared by every target, when the lab asks for one (or the
     server DATABASE_URL names); then the lab's setup steps, in order;
  2. cold start of each target ferry starts: spawn to first 200 of its ready path, repeated,
     alternated; idle RSS. Targets already running (url + pid, url + metrics) have none;
  3. the scenarios, identical for every target, alternated A B C A B C, each with a warm-up;
     CPU and RSS of each target's whole process tree (or its Prometheus metrics) meanwhile;
  4. capacity at the lab's SLO for scenarios with capacity = true, by bisection; priced as
     `ferry cost` prices (built-in prices, peak = --target-rps): instances, consolidation
     ratio and monthly cost against the baseline;
  5. pgbench -S -M prepared on the same server (the database's own ceiling), for labs with one;
  6. the matrix, the cost table and the verdict as markdown on stdout, compare.json and
     compare.html in --out.
  The load generator shares the machine with the targets it started.

TIME
  The plan and an estimate are printed before the run; --plan prints them and stops. The
  defaults are 5 s per scenario run after a 2 s warm-up, 2 rounds. --thorough: 60 s, 3 rounds,
  and one 5-minute run per target of the first scenario. --quick: a smoke run for CI.

EXIT STATUS
  0 finished, every scenario valid; 1 did not finish (wins over 5 and 7); 2 bad command line;
  5 finished, every report written, but a scenario of a target was invalid (a measured round's
  errors above the lab's SLO error bound; wins over 7); 7 finished, every report written, and
  --baseline found a regression; 130 a second Ctrl-C.

PERFORMANCE GATE (--baseline FILE)
  Compares this run with an earlier compare.json, by target and scenario name: throughput
  (closed model) or p99 (open model), CPU per request, peak RSS and capacity. A figure worse
  by more than the larger of --regression-threshold and the rounds' spread is a regression.
  Targets and scenarios in one run only, and invalid ones, are listed, never compared.

EXAMPLES
  ferry compare
  ferry compare --scenarios get-user,get-user-burst
  ferry compare --plan --thorough
  ferry compare --duration 30s --rounds 3 --target-rps 25000
  ferry compare --targets node,rust --set vars.users=1000000
  ferry compare --lab labs/static/lab.toml --quick
  ferry compare --quick --baseline main/compare.json --markdown gate.md";

#[derive(Args)]
#[command(after_long_help = COMPARE_HELP)]
pub struct CompareArgs {
    /// The lab file [default: the nearest ferry-lab.toml at or above the current directory].
    #[arg(long)]
    lab: Option<PathBuf>,
    /// Run only these targets (comma-separated names from the lab), in the lab's order.
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
    /// Run only these scenarios (comma-separated names from the lab), in the lab's order; a
    /// kept scenario's `relative_to` must be kept too.
    #[arg(long, value_delimiter = ',')]
    scenarios: Vec<String>,
    /// Override a lab value: KEY=VALUE with a dotted KEY (vars.users=1000000, slo.p99=5ms,
    /// scenario.get-user.connections=128, target.rust.env.WORKERS=4). Repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    sets: Vec<String>,
    /// Print the plan and the estimated wall time, and run nothing.
    #[arg(long)]
    plan: bool,
    /// Smoke run for CI: the lab's [quick] values, ~1.5 s per run, one round, 2 capacity probes.
    #[arg(long, conflicts_with = "thorough")]
    quick: bool,
    /// For a decision: 60 s per scenario run, 3 rounds, plus one 5-minute run per target of the
    /// lab's first scenario.
    #[arg(long)]
    thorough: bool,
    /// Measured length of every scenario run, per target and round [default: each scenario's
    /// own duration, 5 s unless the lab says; --quick 1.5s; --thorough 60s].
    #[arg(short = 'd', long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Warm-up before each run [default: 2s; --quick 0.5s].
    #[arg(long, value_parser = parse_duration)]
    warmup: Option<Duration>,
    /// Rounds of each scenario, alternating the targets [default: 2; --quick 1; --thorough 3].
    #[arg(long)]
    rounds: Option<u32>,
    /// The p99 bound of the capacity search [default: the lab's slo.p99, else 10ms].
    #[arg(long, value_parser = parse_duration)]
    slo_p99: Option<Duration>,
    /// The load to size and price instances for, in requests/s (`ferry cost`'s peak).
    #[arg(long, default_value_t = defaults::TARGET_RPS)]
    target_rps: f64,
    /// Cold starts per started target [default: 5; --quick 2].
    #[arg(long)]
    cold_starts: Option<u32>,
    /// Probes of each capacity search per target, at least 1 [default: 5; --quick 2].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    capacity_probes: Option<u32>,
    /// Skip the pgbench reference run.
    #[arg(long)]
    no_pgbench: bool,
    /// Where results go (compare.json, compare.html, logs/, the setup steps' files).
    #[arg(short = 'o', long, default_value = "ferry-compare")]
    out: PathBuf,
    /// Don't draw the progress bar.
    #[arg(long)]
    no_progress: bool,
    /// An earlier compare.json to compare this run with; exit 7 on a regression.
    #[arg(long, value_name = "FILE")]
    baseline: Option<PathBuf>,
    /// How much worse than the baseline a figure must be to be a regression (when the rounds'
    /// spread is smaller): a percentage or a fraction.
    #[arg(long, default_value = "10%", value_parser = parse_threshold, requires = "baseline")]
    regression_threshold: f64,
    /// Also write the matrix, the verdict and (with --baseline) the changes as markdown, for
    /// a pull-request comment.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// The engine that runs [target.container] targets [default: podman, else docker, as
    /// found on PATH].
    #[arg(long, value_parser = ["podman", "docker"])]
    engine: Option<String>,
}

pub fn compare(args: CompareArgs) -> Result<ExitCode> {
    let lab = lab_from(&args)?;
    let mut settings = settings_from(&args)?;
    let containers = lab.targets.iter().any(|target| {
        matches!(
            target.kind,
            compare::lab::TargetKind::Started {
                container: Some(_),
                ..
            }
        )
    });
    if containers && !args.plan {
        settings.engine = Some(compare::container::find_engine(args.engine.as_deref())?);
    }
    let (plan_text, _) = plan::describe(&lab, &settings);
    let mask = compare::secrets::Mask::default();
    mask.learn(&lab.secrets, &lab.vars);
    let plan_text = mask.apply(&plan_text);
    if args.plan {
        print!("{plan_text}");
        return Ok(ExitCode::SUCCESS);
    }
    eprint!("{plan_text}");
    let stop = Arc::new(AtomicBool::new(false));
    let handler_stop = stop.clone();
    ctrlc::set_handler(move || {
        if handler_stop.swap(true, Ordering::Relaxed) {
            eprintln!("\nferry: stopping now");
            std::process::exit(130);
        }
        eprintln!(
            "\nferry: stopping after the current step; the targets and the database are stopped and partial results written (Ctrl-C again to quit at once)"
        );
    })
    .context("installing the Ctrl-C handler")?;
    let gate = GateOptions {
        baseline: args
            .baseline
            .as_deref()
            .map(|file| Baseline::read(file, args.regression_threshold))
            .transpose()?,
        markdown: args.markdown.clone(),
    };
    let outputs = compare::run_gated(&lab, &settings, stop, &gate)?;
    print!("{}", outputs.markdown);
    println!();
    println!(
        "Finished in {:.0} s. JSON: {}  HTML report: {}",
        outputs.report.wall_time_s,
        outputs.json.display(),
        outputs.html.display()
    );
    let invalid: Vec<String> = outputs
        .report
        .targets
        .iter()
        .flat_map(|target| {
            target
                .scenarios
                .iter()
                .filter(|scenario| !scenario.valid)
                .map(|scenario| {
                    // The reason reads "invalid: 100 % 401", "invalid: OOM kill: …".
                    let reason = scenario.invalid_reason.as_deref().unwrap_or("invalid");
                    format!("{} on {} ({reason})", scenario.scenario, target.name)
                })
        })
        .collect();
    if invalid.is_empty() {
        return Ok(gate_status(&outputs.report));
    }
    eprintln!("ferry: not compared: {}", invalid.join(", "));
    Ok(ExitCode::from(EXIT_INVALID))
}

/// `ferry compare` finished and wrote every report, but a scenario was invalid.
const EXIT_INVALID: u8 = 5;

/// `ferry compare` finished and wrote every report, and `--baseline` found a regression.
const EXIT_REGRESSION: u8 = 7;

/// 7 when the gate found a regression (named on stderr), else 0.
fn gate_status(report: &compare::CompareReport) -> ExitCode {
    let Some(section) = &report.baseline else {
        return ExitCode::SUCCESS;
    };
    let regressions: Vec<String> = section
        .regressions()
        .map(|c| format!("{} on {}: {}", c.scenario, c.target, c.metric))
        .collect();
    if regressions.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "ferry: regression against {}: {}",
        section.file,
        regressions.join(", ")
    );
    ExitCode::from(EXIT_REGRESSION)
}

fn lab_from(args: &CompareArgs) -> Result<Lab> {
    let file = match &args.lab {
        Some(file) => file.clone(),
        None => {
            lab::find_default(&std::env::current_dir().context("reading the current directory")?)?
        }
    };
    let mut lab = lab::load(
        &file,
        &LoadOptions {
            quick: args.quick,
            sets: args.sets.clone(),
        },
    )?;
    if let Some(p99) = args.slo_p99 {
        if p99.is_zero() {
            bail!("--slo-p99 must be above 0");
        }
        lab.slo.p99 = p99;
    }
    if !args.targets.is_empty() {
        if let Some(unknown) = args
            .targets
            .iter()
            .find(|name| !lab.targets.iter().any(|t| t.name == **name))
        {
            let names: Vec<&str> = lab.targets.iter().map(|t| t.name.as_str()).collect();
            bail!(
                "--targets: the lab has no target `{unknown}` (it has {})",
                names.join(", ")
            );
        }
        lab.targets
            .retain(|target| args.targets.contains(&target.name));
    }
    if !args.scenarios.is_empty() {
        keep_scenarios(&mut lab, &args.scenarios)?;
    }
    Ok(lab)
}

/// `--scenarios`: only the named scenarios, each named one in the lab, and every kept
/// scenario's `relative_to` kept too.
fn keep_scenarios(lab: &mut Lab, names: &[String]) -> Result<()> {
    if let Some(unknown) = names
        .iter()
        .find(|name| !lab.scenarios.iter().any(|s| s.name == **name))
    {
        let known: Vec<&str> = lab.scenarios.iter().map(|s| s.name.as_str()).collect();
        bail!(
            "--scenarios: the lab has no scenario `{unknown}` (it has {})",
            known.join(", ")
        );
    }
    lab.scenarios
        .retain(|scenario| names.contains(&scenario.name));
    for scenario in &lab.scenarios {
        if let Some(reference) = &scenario.relative_to
            && !names.contains(reference)
        {
            bail!(
                "--scenarios: `{}` runs relative to `{reference}`, which is left out; add \
                 `{reference}` to --scenarios",
                scenario.name
            );
        }
    }
    Ok(())
}

/// The value of the preset in force: normal, `--quick` or `--thorough`.
fn preset<T>(args: &CompareArgs, normal: T, smoke: T, long: T) -> T {
    if args.quick {
        smoke
    } else if args.thorough {
        long
    } else {
        normal
    }
}

fn settings_from(args: &CompareArgs) -> Result<CompareSettings> {
    if args.target_rps <= 0.0 {
        bail!("--target-rps must be above 0");
    }
    let duration = args.duration.or(preset(
        args,
        None,
        Some(quick::DURATION),
        Some(thorough::DURATION),
    ));
    if duration.is_some_and(|d| d < Duration::from_millis(500)) {
        bail!("--duration must be at least 500ms");
    }
    Ok(CompareSettings {
        out: std::path::absolute(&args.out)
            .with_context(|| format!("resolving {}", args.out.display()))?,
        database_url: std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty()),
        duration,
        warmup: args.warmup.unwrap_or(preset(
            args,
            defaults::WARMUP,
            quick::WARMUP,
            defaults::WARMUP,
        )),
        rounds: args
            .rounds
            .unwrap_or(preset(
                args,
                defaults::ROUNDS,
                quick::ROUNDS,
                thorough::ROUNDS,
            ))
            .max(1),
        cold_starts: args.cold_starts.unwrap_or(preset(
            args,
            defaults::COLD_STARTS,
            quick::COLD_STARTS,
            defaults::COLD_STARTS,
        )),
        capacity_probes: args.capacity_probes.unwrap_or(preset(
            args,
            defaults::CAPACITY_PROBES,
            quick::CAPACITY_PROBES,
            defaults::CAPACITY_PROBES,
        )),
        probe_duration: preset(
            args,
            defaults::PROBE_DURATION.max(duration.unwrap_or_default().mul_f64(0.6)),
            quick::PROBE_DURATION,
            defaults::PROBE_DURATION.max(duration.unwrap_or_default().mul_f64(0.6)),
        ),
        target_rps: args.target_rps,
        pgbench_duration: (!args.no_pgbench).then_some(preset(
            args,
            defaults::PGBENCH_DURATION,
            quick::PGBENCH_DURATION,
            defaults::PGBENCH_DURATION,
        )),
        pgbench_scale: preset(
            args,
            defaults::PGBENCH_SCALE,
            quick::PGBENCH_SCALE,
            defaults::PGBENCH_SCALE,
        ),
        long_run: args.thorough.then_some(thorough::LONG_RUN),
        progress: !args.no_progress,
        command_line: std::env::args()
            .map(|arg| {
                if arg.contains(' ') {
                    format!("'{arg}'")
                } else {
                    arg
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        engine: args.engine.clone(),
    })
}
