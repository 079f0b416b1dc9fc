//! How one `ferry compare` run measures a lab: lengths, rounds, probes, as a plain struct so
//! that tests and other commands can drive a comparison without the command line. What is
//! measured (targets, scenarios, setup) is the lab's ([`super::lab::Lab`]).

use std::path::PathBuf;
use std::time::Duration;

/// Everything a comparison needs besides the lab, resolved (paths absolute, defaults applied).
#[derive(Debug, Clone)]
pub struct CompareSettings {
    /// Where results, logs and the setup steps' files go (`{out}`).
    pub out: PathBuf,
    /// An existing PostgreSQL for labs with `[database]`; `None` starts an embedded one.
    pub database_url: Option<String>,
    /// Measured length of every scenario run; `None` keeps each scenario's own `duration`.
    pub duration: Option<Duration>,
    /// Load before each measured run, discarded.
    pub warmup: Duration,
    /// Rounds of each scenario (A B C A B C ...).
    pub rounds: u32,
    /// Times each started target is started for the cold-start measurement.
    pub cold_starts: u32,
    /// Probes of each capacity search, per target.
    pub capacity_probes: u32,
    /// Measured length of each capacity probe.
    pub probe_duration: Duration,
    /// The load the instance counts are computed for.
    pub target_rps: f64,
    /// `pgbench -S` length; `None` skips the reference run.
    pub pgbench_duration: Option<Duration>,
    /// `pgbench -i -s` scale of the reference tables.
    pub pgbench_scale: u32,
    /// `--thorough`: one long run per target of the lab's first scenario, after the rest.
    pub long_run: Option<Duration>,
    /// Draw progress on the terminal.
    pub progress: bool,
    /// The command line as typed, recorded in the results.
    pub command_line: String,
    /// The container engine of `[target.container]` targets (`--engine`, or the one found).
    pub engine: Option<String>,
}

/// Defaults of the normal run.
pub mod defaults {
    use std::time::Duration;

    pub const WARMUP: Duration = Duration::from_secs(2);
    pub const ROUNDS: u32 = 2;
    pub const COLD_STARTS: u32 = 5;
    pub const CAPACITY_PROBES: u32 = 5;
    pub const PROBE_DURATION: Duration = Duration::from_secs(3);
    pub const TARGET_RPS: f64 = 10_000.0;
    pub const PGBENCH_DURATION: Duration = Duration::from_secs(10);
    pub const PGBENCH_SCALE: u32 = 10;
}

/// `--quick`: the CI smoke run; every phase runs, briefly.
pub mod quick {
    use std::time::Duration;

    pub const DURATION: Duration = Duration::from_millis(1500);
    pub const WARMUP: Duration = Duration::from_millis(500);
    pub const ROUNDS: u32 = 1;
    pub const COLD_STARTS: u32 = 2;
    pub const CAPACITY_PROBES: u32 = 2;
    pub const PROBE_DURATION: Duration = Duration::from_millis(1500);
    pub const PGBENCH_DURATION: Duration = Duration::from_secs(2);
    pub const PGBENCH_SCALE: u32 = 1;
}

/// `--thorough`: long enough for a garbage-collection pause to show.
pub mod thorough {
    use std::time::Duration;

    pub const DURATION: Duration = Duration::from_secs(60);
    pub const ROUNDS: u32 = 3;
    pub const LONG_RUN: Duration = Duration::from_secs(300);
}

impl CompareSettings {
    /// The measured length of a scenario whose lab `duration` is `own`.
    pub fn scenario_duration(&self, own: Duration) -> Duration {
        self.duration.unwrap_or(own)
    }

    /// How much a scenario's rate steps stretch: its run length over the lab's `duration`.
    pub fn stretch(&self, own: Duration) -> f64 {
        self.scenario_duration(own).as_secs_f64() / own.as_secs_f64().max(1e-3)
    }
}
