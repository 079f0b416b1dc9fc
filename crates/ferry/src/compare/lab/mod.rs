//! The lab: what `ferry compare` runs, read from a TOML lab file (`docs/ferry.md`, "The lab
//! file"). Everything about the services under comparison (how to start them, what to set up
//! first, what to send) lives in the file; ferry itself knows none of them.
//!
//! [`load`] reads and checks a file completely before anything starts: a bad file stops with
//! its path, line and key ([`LabError`]).

pub mod error;
pub mod overrides;
pub mod placeholders;
pub mod rate;
pub mod schema;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

pub use error::LabError;

/// The file name `ferry compare` looks for, without `--lab`, in the current directory and
/// then each parent in turn.
pub const DEFAULT_LAB_FILE: &str = "ferry-lab.toml";

/// Placeholders every lab has.
pub mod builtin {
    /// The lab file's folder.
    pub const DIR: &str = "dir";
    /// The run's output folder (`--out`), where setup steps write their files.
    pub const OUT: &str = "out";
    /// The machine's cores.
    pub const CORES: &str = "cores";
    /// The shared database's URL (labs with `[database]`).
    pub const DATABASE_URL: &str = "database_url";
    /// A free port picked for each start of a target (target fields only).
    pub const PORT: &str = "port";
    /// The base URL ferry sends to, without a trailing `/` (`after_start` steps only).
    pub const URL: &str = "url";
}

/// A lab, checked, with its values as templates still holding the placeholders only known
/// while it runs (`{port}`, `{out}`, `{database_url}`, setup outputs).
#[derive(Debug, Clone)]
pub struct Lab {
    pub name: String,
    pub description: Option<String>,
    /// The lab file, absolute.
    pub file: PathBuf,
    /// Its folder: `{dir}`, and what relative paths are relative to.
    pub dir: PathBuf,
    /// `vars`, after `--quick` and `--set`, placeholders expanded.
    pub vars: BTreeMap<String, String>,
    /// The same, with the type each was written with (a number stays a number in reports).
    pub typed_vars: BTreeMap<String, serde_json::Value>,
    /// Placeholder names whose values are never written (`secrets`).
    pub secrets: Vec<String>,
    /// Environment of every target and setup step.
    pub env: Vec<(String, String)>,
    pub database: Option<DatabaseSpec>,
    /// The databases `{database_url:NAME}` names, each created empty when the run starts.
    pub databases: Vec<String>,
    pub slo: Slo,
    pub setup: Vec<SetupStep>,
    /// `[[background]]`: run beside the measurements, from the targets' start to the end.
    pub background: Vec<SetupStep>,
    pub targets: Vec<LabTarget>,
    pub scenarios: Vec<LabScenario>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseSpec {
    pub pgbench: bool,
    /// `pgbench_clients`: the client counts pgbench runs at; the best is the ceiling.
    pub pgbench_clients: Vec<u32>,
    /// `[database] reset`: when the databases are put back as setup left them.
    pub reset: ResetMode,
}

/// `[database] reset`: whether the databases are restored to their state after setup before
/// each measured run, capacity probe and long run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ResetMode {
    /// Reset when a scenario sends POST, PUT, PATCH or DELETE, after a run of one.
    #[default]
    Auto,
    /// Before every run.
    Always,
    Never,
}

/// The objective of the capacity search.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// Bound of the p99 of corrected latency.
    pub p99: Duration,
    /// Bound of (errors + dropped) / attempts.
    pub error_ratio: f64,
}

impl Slo {
    pub const DEFAULT: Slo = Slo {
        p99: Duration::from_millis(10),
        error_ratio: 0.001,
    };
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupStep {
    pub name: String,
    pub run: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Template of the working directory (relative to the lab's folder once expanded).
    pub cwd: Option<String>,
    /// The placeholder its trimmed standard output becomes.
    pub output: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Baseline,
    Candidate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabTarget {
    pub name: String,
    pub role: Role,
    pub kind: TargetKind,
    /// `[target.tls]`, its paths absolute: set, a started target is reached over HTTPS.
    pub tls: Option<crate::load::TlsOptions>,
    /// `[target.headers]`: templates that may use the target's own `after_start` outputs.
    pub headers: Vec<(String, String)>,
    /// `[[target.after_start]]`, in order.
    pub after_start: Vec<SetupStep>,
}

/// How ferry reaches a target, and so what it can measure of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetKind {
    /// ferry starts it (for each cold start, then for the scenarios) on `{port}`.
    Started {
        start: Vec<String>,
        env: Vec<(String, String)>,
        cwd: Option<String>,
        ready: String,
        /// How long it may take to answer `ready`.
        ready_timeout: Duration,
        /// `[target.container]`: started as a container (`start` may then be empty).
        container: Option<ContainerSpec>,
    },
    /// Already running on this machine: CPU and RSS of its process tree.
    Attached { url: String, pid: PidSource },
    /// Already running elsewhere: CPU and RSS from its Prometheus process metrics.
    Remote {
        url: String,
        metrics: String,
        machine: String,
    },
}

/// `[target.container]`, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    pub image: String,
    pub cpus: f64,
    /// As written: `"2g"`.
    pub memory: String,
    /// The limit in bytes.
    #[serde(skip)]
    pub memory_bytes: u64,
    #[serde(skip)]
    pub engine_args: Vec<String>,
    /// The lab's `[env]` as this target receives it: with its own `{cores}` (⌈cpus⌉).
    #[serde(skip)]
    pub lab_env: Vec<(String, String)>,
}

impl Eq for ContainerSpec {}

impl ContainerSpec {
    /// `{cores}` of the target: ⌈cpus⌉.
    pub fn cores(&self) -> u32 {
        self.cpus.ceil().max(1.0) as u32
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidSource {
    Pid(u32),
    /// Template of a file holding the pid, read when the run starts.
    File(String),
}

impl TargetKind {
    /// The JSON and report name of the kind.
    pub fn label(&self) -> &'static str {
        match self {
            TargetKind::Started {
                container: Some(_), ..
            } => "container",
            TargetKind::Started { .. } => "started",
            TargetKind::Attached { .. } => "attached",
            TargetKind::Remote { .. } => "remote",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LabScenario {
    pub name: String,
    pub title: String,
    pub requests: RequestSource,
    pub headers: Vec<(String, String)>,
    pub body: Option<BodySource>,
    /// Values files (path templates) by placeholder name.
    pub values: Vec<(String, String)>,
    /// `values_order`: how the values are drawn.
    pub values_order: crate::load::ValueOrder,
    pub connections: usize,
    /// `idle_connections`: held open, idle, beside the load of each measured run.
    pub idle_connections: usize,
    /// As written in the lab (before `--duration` / `--quick`).
    pub duration: Duration,
    /// The rate schedule text (may be relative); `None`: the closed model.
    pub rate: Option<String>,
    pub relative_to: Option<String>,
    pub capacity: bool,
    /// The statuses that are not errors; `None`: every 2xx and 3xx.
    pub expect: Option<Vec<u16>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestSource {
    /// `METHOD PATH`.
    One { method: String, path: String },
    /// A ferry target file (path template).
    File(String),
    /// `[[scenario.flow]]`: steps whose requests are `METHOD /path` (templates).
    Flow(Vec<crate::load::flow::file::StepSpec>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodySource {
    Inline(String),
    /// Path template.
    File(String),
}

/// How to read a lab file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--quick`: the lab's `[quick]` values apply.
    pub quick: bool,
    /// `--set KEY=VALUE`, applied in order.
    pub sets: Vec<String>,
}

/// Reads and checks `path`.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Lab> {
    let file =
        std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("reading the lab file {}", file.display()))?;
    let text = overrides::apply(&text, &options.sets)
        .with_context(|| format!("applying --set to {}", file.display()))?;
    validate::lab(&file, &text, options)
}

/// The default lab: [`DEFAULT_LAB_FILE`] in `start` or its nearest ancestor.
pub fn find_default(start: &Path) -> Result<PathBuf> {
    let start = std::path::absolute(start).context("resolving the current directory")?;
    for dir in start.ancestors() {
        let candidate = dir.join(DEFAULT_LAB_FILE);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no {DEFAULT_LAB_FILE} in {} or above it; pass --lab FILE (labs/ has some)",
        start.display()
    )
}
