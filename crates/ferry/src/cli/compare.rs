//! `ferry compare`: the command line of [`ferry::compare`].

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;

use ferry::compare::settings::{defaults, quick};
use ferry::compare::targets::locate_repo;
use ferry::compare::{self, CompareSettings};
use ferry::units::parse_duration;

const COMPARE_HELP: &str = "\
WHAT IT DOES
  1. starts PostgreSQL (embedded, unless DATABASE_URL is set), migrates, seeds users, mints a token;
  2. builds the Rust service (cargo build --release) and, when Node.js is installed, prepares the
     Node baseline (npm ci when node_modules is missing); both get the same database, JWT secret,
     DB_POOL_SIZE and WORKERS;
  3. cold start: spawn to first 200 of /health/ready, repeated, alternated; idle RSS;
  4. scenarios, identical for both, alternated A B A B, each with a warm-up: GET a user by random
     id (closed model); the same at stepped open-model rates scaled to the machine (base, burst,
     base); POST users with unique emails; POST /api/v1/process with a fixed batch;
  5. CPU and RSS of each target's whole process tree every 100 ms while it is under load;
  6. capacity at the SLO: the highest open-model GET rate with p99 under --slo-p99 and errors under
     0.1%, by bisection; instances for --target-rps and the consolidation ratio;
  7. pgbench -S -M prepared on the same server (the database's own ceiling), when installed;
  8. the matrix as markdown on stdout, compare.json and a self-contained compare.html in --out.
  Only one target is under load at a time; the other idles. The load generator shares the machine.

TIME
  The defaults take about 3 minutes after the build on a 2-core machine. --duration sets the
  measured length of each scenario run (per target, per round): --duration 30s for a decision.
  --quick is a smoke run for CI (1,000 users, short runs, one round) of well under 2 minutes.

EXAMPLES
  ferry compare
  ferry compare --duration 30s --rounds 3 --target-rps 25000
  ferry compare --quick --out /tmp/cmp --rust-bin target/release/user-service
  DATABASE_URL=postgres://postgres@db:5432/bench ferry compare --users 1000000";

#[derive(Args)]
#[command(after_long_help = COMPARE_HELP)]
pub struct CompareArgs {
    /// Smoke run for CI: 1,000 users, ~1.5 s per run, one round, 2 capacity probes.
    #[arg(long)]
    quick: bool,
    /// Measured length of each scenario run, per target and round [default: 5s; --quick 1.5s].
    #[arg(short = 'd', long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Warm-up before each run [default: 2s; --quick 0.5s].
    #[arg(long, value_parser = parse_duration)]
    warmup: Option<Duration>,
    /// Rounds of each scenario, alternating the targets [default: 2; --quick 1].
    #[arg(long)]
    rounds: Option<u32>,
    /// Users to seed [default: 100000; --quick 1000].
    #[arg(long)]
    users: Option<u64>,
    /// The p99 bound of the capacity search.
    #[arg(long, value_parser = parse_duration, default_value = "10ms")]
    slo_p99: Duration,
    /// The load to size instances for, in requests/s.
    #[arg(long, default_value_t = defaults::TARGET_RPS)]
    target_rps: f64,
    /// Closed-model connections (the open model uses twice as many, the process scenario two
    /// per worker).
    #[arg(short = 'c', long, default_value_t = defaults::CONNECTIONS)]
    connections: usize,
    /// DB_POOL_SIZE of both targets.
    #[arg(long, default_value_t = defaults::POOL_SIZE)]
    pool_size: u32,
    /// WORKERS of both targets [default: one per core].
    #[arg(long)]
    workers: Option<usize>,
    /// Cold starts per target [default: 5; --quick 2].
    #[arg(long)]
    cold_starts: Option<u32>,
    /// Probes of the capacity search per target [default: 5; --quick 2].
    #[arg(long)]
    capacity_probes: Option<u32>,
    /// Skip the pgbench reference run.
    #[arg(long)]
    no_pgbench: bool,
    /// Where results go (compare.json, compare.html, logs/).
    #[arg(short = 'o', long, default_value = "ferry-compare")]
    out: PathBuf,
    /// The project root [default: found above the current directory].
    #[arg(long)]
    repo: Option<PathBuf>,
    /// Use this user-service binary instead of building it.
    #[arg(long)]
    rust_bin: Option<PathBuf>,
    /// The Node.js baseline [default: baselines/node in the project].
    #[arg(long)]
    node_dir: Option<PathBuf>,
    /// Run the Rust side alone.
    #[arg(long)]
    no_node: bool,
    /// Don't draw the progress bar.
    #[arg(long)]
    no_progress: bool,
}

pub fn compare(args: CompareArgs) -> Result<ExitCode> {
    let settings = settings_from(&args)?;
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
    let outputs = compare::run(&settings, stop)?;
    print!("{}", outputs.markdown);
    println!();
    println!(
        "Finished in {:.0} s. JSON: {}  HTML report: {}",
        outputs.report.wall_time_s,
        outputs.json.display(),
        outputs.html.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn settings_from(args: &CompareArgs) -> Result<CompareSettings> {
    let current = std::env::current_dir().context("reading the current directory")?;
    let repo = match &args.repo {
        Some(repo) => locate_repo(repo)?,
        None => locate_repo(&current)?,
    };
    let absolute = |path: &PathBuf| -> Result<PathBuf> {
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))
    };
    if args.target_rps <= 0.0 {
        bail!("--target-rps must be above 0");
    }
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if args.slo_p99.is_zero() {
        bail!("--slo-p99 must be above 0");
    }
    let pick = |given: Option<Duration>, normal: Duration, smoke: Duration| {
        given.unwrap_or(if args.quick { smoke } else { normal })
    };
    let duration = pick(args.duration, defaults::DURATION, quick::DURATION);
    if duration < Duration::from_millis(500) {
        bail!("--duration must be at least 500ms");
    }
    Ok(CompareSettings {
        out: absolute(&args.out)?,
        rust_bin: args.rust_bin.as_ref().map(absolute).transpose()?,
        node_dir: match &args.node_dir {
            Some(dir) => absolute(dir)?,
            None => repo.join("baselines/node"),
        },
        repo,
        no_node: args.no_node,
        database_url: std::env::var("DATABASE_URL")
            .ok()
            .filter(|url| !url.is_empty()),
        users: args
            .users
            .unwrap_or(if args.quick {
                quick::USERS
            } else {
                defaults::USERS
            })
            .max(1),
        duration,
        warmup: pick(args.warmup, defaults::WARMUP, quick::WARMUP),
        rounds: args
            .rounds
            .unwrap_or(if args.quick {
                quick::ROUNDS
            } else {
                defaults::ROUNDS
            })
            .max(1),
        connections: args.connections,
        cold_starts: args.cold_starts.unwrap_or(if args.quick {
            quick::COLD_STARTS
        } else {
            defaults::COLD_STARTS
        }),
        capacity_probes: args.capacity_probes.unwrap_or(if args.quick {
            quick::CAPACITY_PROBES
        } else {
            defaults::CAPACITY_PROBES
        }),
        probe_duration: if args.quick {
            quick::PROBE_DURATION
        } else {
            defaults::PROBE_DURATION.max(duration.mul_f64(0.6))
        },
        slo_p99: args.slo_p99,
        slo_errors: defaults::SLO_ERRORS,
        target_rps: args.target_rps,
        pool_size: args.pool_size.max(1),
        workers: args
            .workers
            .unwrap_or_else(ferry::load::settings::default_threads)
            .max(1),
        process_records: defaults::PROCESS_RECORDS,
        pgbench_duration: (!args.no_pgbench).then_some(if args.quick {
            quick::PGBENCH_DURATION
        } else {
            defaults::PGBENCH_DURATION
        }),
        pgbench_scale: if args.quick {
            quick::PGBENCH_SCALE
        } else {
            defaults::PGBENCH_SCALE
        },
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
    })
}
