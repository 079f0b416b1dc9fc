//! What one `ferry compare` run does and how long each phase takes, as a plain struct so that
//! tests and other commands can drive a comparison without the command line.

use std::path::PathBuf;
use std::time::Duration;

/// Everything a comparison needs, resolved (paths absolute, defaults applied).
#[derive(Debug, Clone)]
pub struct CompareSettings {
    /// The workspace root (holds `crates/user-service`).
    pub repo: PathBuf,
    /// Where results, logs, the ids file and the process batch go.
    pub out: PathBuf,
    /// A prebuilt user-service binary; `None` builds it with `cargo build --release`.
    pub rust_bin: Option<PathBuf>,
    /// The Node.js baseline's directory.
    pub node_dir: PathBuf,
    /// Skip the Node.js side even when Node.js is installed.
    pub no_node: bool,
    /// An existing PostgreSQL; `None` starts an embedded one for the run.
    pub database_url: Option<String>,
    /// Users seeded before the run.
    pub users: u64,
    /// Measured length of each scenario, per target, per round.
    pub duration: Duration,
    /// Load before each measured run, discarded.
    pub warmup: Duration,
    /// Rounds of each scenario (A B A B ...).
    pub rounds: u32,
    /// Closed-model connections (and the open model's pool).
    pub connections: usize,
    /// Times each target is started for the cold-start measurement.
    pub cold_starts: u32,
    /// Probes of the capacity search, per target.
    pub capacity_probes: u32,
    /// Measured length of each capacity probe.
    pub probe_duration: Duration,
    /// The latency bound of the capacity search (p99 of corrected latency).
    pub slo_p99: Duration,
    /// The error bound of the capacity search (a ratio: 0.001 is 0.1%).
    pub slo_errors: f64,
    /// The load the instance count is computed for.
    pub target_rps: f64,
    /// `DB_POOL_SIZE` of both targets: the same connection budget.
    pub pool_size: u32,
    /// `WORKERS` of both targets.
    pub workers: usize,
    /// Records in the `/api/v1/process` batch.
    pub process_records: usize,
    /// `pgbench -S` length; `None` skips the reference run.
    pub pgbench_duration: Option<Duration>,
    /// `pgbench -i -s` scale of the reference tables.
    pub pgbench_scale: u32,
    /// Draw progress on the terminal.
    pub progress: bool,
    /// The command line as typed, recorded in the results.
    pub command_line: String,
}

/// Defaults of the normal run (about 3 minutes after the build on a 2-core machine).
pub mod defaults {
    use std::time::Duration;

    pub const USERS: u64 = 100_000;
    pub const DURATION: Duration = Duration::from_secs(5);
    pub const WARMUP: Duration = Duration::from_secs(2);
    pub const ROUNDS: u32 = 2;
    pub const CONNECTIONS: usize = 64;
    pub const COLD_STARTS: u32 = 5;
    pub const CAPACITY_PROBES: u32 = 5;
    pub const PROBE_DURATION: Duration = Duration::from_secs(3);
    pub const SLO_P99: Duration = Duration::from_millis(10);
    pub const SLO_ERRORS: f64 = 0.001;
    pub const TARGET_RPS: f64 = 10_000.0;
    pub const POOL_SIZE: u32 = 20;
    pub const PROCESS_RECORDS: usize = 1_000;
    pub const PGBENCH_DURATION: Duration = Duration::from_secs(10);
    pub const PGBENCH_SCALE: u32 = 10;
}

/// `--quick`: the CI smoke run; every phase runs, briefly.
pub mod quick {
    use std::time::Duration;

    pub const USERS: u64 = 1_000;
    pub const DURATION: Duration = Duration::from_millis(1500);
    pub const WARMUP: Duration = Duration::from_millis(500);
    pub const ROUNDS: u32 = 1;
    pub const COLD_STARTS: u32 = 2;
    pub const CAPACITY_PROBES: u32 = 2;
    pub const PROBE_DURATION: Duration = Duration::from_millis(1500);
    pub const PGBENCH_DURATION: Duration = Duration::from_secs(2);
    pub const PGBENCH_SCALE: u32 = 1;
}

impl CompareSettings {
    /// The stepped open-model schedule for a machine whose slower target sustains `throughput`
    /// requests/s closed-model: a base load, a burst to three times it, and back, with the
    /// burst half as long as each base step.
    pub fn burst_steps(&self, throughput: f64) -> Vec<(f64, Duration)> {
        let base = (throughput * 0.2).max(10.0).round();
        let burst = (throughput * 0.6).max(30.0).round();
        vec![
            (base, self.duration),
            (burst, self.duration / 2),
            (base, self.duration),
        ]
    }
}
