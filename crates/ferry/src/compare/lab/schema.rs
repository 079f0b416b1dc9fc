//! The lab file as written: the TOML tables and keys `ferry compare --lab` accepts, every one
//! documented in `docs/ferry.md` ("The lab file"). Unknown keys are refused, and the values a
//! validation error may point at keep their position in the file (`toml::Spanned`).

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabFile {
    /// Shown in reports.
    pub name: String,
    /// One paragraph for the report: what the lab compares and why.
    #[serde(default)]
    pub description: Option<String>,
    /// Placeholder names (vars, setup outputs) whose values ferry never writes: each value is
    /// masked as `***` in every file it writes and on the terminal.
    #[serde(default)]
    pub secrets: Vec<Spanned<String>>,
    /// Named values usable as `{name}` everywhere; `--set vars.NAME=VALUE` overrides them.
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<Scalar>>,
    /// What `--quick` changes in the lab (its own values of `vars`).
    #[serde(default)]
    pub quick: Option<QuickTable>,
    /// Environment of every target and setup step, on top of ferry's own.
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    /// An embedded PostgreSQL shared by every target (or the one `DATABASE_URL` names).
    #[serde(default)]
    pub database: Option<DatabaseTable>,
    /// The objective the capacity search holds each target to.
    #[serde(default)]
    pub slo: Option<SloTable>,
    /// Commands run once, in order, before any target starts.
    #[serde(default)]
    pub setup: Vec<SetupTable>,
    /// `[[background]]`: commands (the keys of `[[setup]]` but `output`) started once the
    /// targets are up and stopped, with their whole process group, when the run ends.
    #[serde(default)]
    pub background: Vec<SetupTable>,
    #[serde(default)]
    pub target: Vec<TargetTable>,
    #[serde(default)]
    pub scenario: Vec<ScenarioTable>,
}

/// A `vars` value: written as a string or a number, used as text.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
}

impl Scalar {
    pub fn text(&self) -> String {
        match self {
            Scalar::Text(text) => text.clone(),
            Scalar::Integer(value) => value.to_string(),
            Scalar::Float(value) => value.to_string(),
            Scalar::Boolean(value) => value.to_string(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuickTable {
    #[serde(default)]
    pub vars: BTreeMap<String, Spanned<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseTable {
    /// `embedded`: a throwaway cluster for the run unless `DATABASE_URL` is set.
    pub kind: Spanned<String>,
    /// Run `pgbench -S` on the same server as the database's own ceiling [default: true].
    #[serde(default = "yes")]
    pub pgbench: bool,
    /// The client counts pgbench runs at, the best being the database's ceiling [default:
    /// `[2]`, one per core of the reference machine].
    #[serde(default)]
    pub pgbench_clients: Option<Spanned<Vec<u32>>>,
    /// `auto` (default), `always` or `never`: restore the databases before each run.
    #[serde(default)]
    pub reset: Option<Spanned<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloTable {
    /// Bound of the p99 of corrected latency, as a duration: `"10ms"`.
    #[serde(default)]
    pub p99: Option<Spanned<String>>,
    /// Bound of errors plus dropped sends, as a share of attempts: `"0.1%"` or `0.001`.
    #[serde(default)]
    pub errors: Option<Spanned<Scalar>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupTable {
    /// Shown in progress and logs.
    pub name: Spanned<String>,
    /// argv; placeholders allowed.
    pub run: Vec<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    /// Relative to the lab file's folder [default: the folder].
    #[serde(default)]
    pub cwd: Option<Spanned<String>>,
    /// The placeholder the step's standard output (trimmed) becomes, e.g. `token`.
    #[serde(default)]
    pub output: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetTable {
    pub name: Spanned<String>,
    /// `baseline` (exactly one) or `candidate`.
    pub role: Spanned<String>,
    /// argv of a target ferry starts, on `{port}`.
    #[serde(default)]
    pub start: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub cwd: Option<Spanned<String>>,
    /// Path polled until it answers 200 [default: `/`].
    #[serde(default)]
    pub ready: Option<Spanned<String>>,
    /// Base URL of a running target (instead of `start`).
    #[serde(default)]
    pub url: Option<Spanned<String>>,
    /// Its process id (CPU and RSS of that process tree).
    #[serde(default)]
    pub pid: Option<Spanned<u32>>,
    /// A file holding its process id.
    #[serde(default)]
    pub pid_file: Option<Spanned<String>>,
    /// Path of its Prometheus metrics (a target on another machine).
    #[serde(default)]
    pub metrics: Option<Spanned<String>>,
    /// What the report calls the machine a remote target runs on [default: its URL's host].
    #[serde(default)]
    pub machine: Option<String>,
    /// How long a started target may take to answer `ready` [default: "60s"].
    #[serde(default)]
    pub ready_timeout: Option<Spanned<String>>,
    /// `[target.tls]`: reach the target over TLS (a started target at
    /// `https://127.0.0.1:{port}`, even with the table empty).
    #[serde(default)]
    pub tls: Option<Spanned<TlsTable>>,
    /// `[target.headers]`: added to every request sent to the target; a scenario's header of
    /// the same name (compared case-insensitively) gives way to it.
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// `[[target.after_start]]`: steps (the keys of `[[setup]]`) run once the target answers
    /// `ready`, and again after each restart for measurement; their outputs are the target's.
    #[serde(default)]
    pub after_start: Vec<SetupTable>,
    /// `[target.container]`: ferry starts the target as a container of this image, under
    /// these limits (`start`, when given, is the command after the image).
    #[serde(default)]
    pub container: Option<Spanned<ContainerTable>>,
}

/// `[target.container]`: an image run by the engine (`--engine`), on the host's network.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerTable {
    pub image: Spanned<String>,
    /// CPU limit, in CPUs (`--cpus`): `1.0`, `0.5`.
    pub cpus: Spanned<f64>,
    /// Memory limit (`--memory`): `"2g"`, `"512m"`.
    pub memory: Spanned<String>,
    /// Extra flags for the engine's `run`, before the image.
    #[serde(default)]
    pub engine_args: Vec<Spanned<String>>,
}

/// `[target.tls]`: how ferry speaks TLS to the target; every key optional. File paths are
/// relative to the lab's folder and may use `{dir}`, `{cores}` and the vars only: they are
/// read when the lab is checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsTable {
    /// Extra trusted CA certificates (PEM).
    #[serde(default)]
    pub cacert: Option<Spanned<String>>,
    /// No verification of the target's certificate; every report says so.
    #[serde(default)]
    pub insecure: bool,
    /// A client certificate chain (PEM), with `key`.
    #[serde(default)]
    pub cert: Option<Spanned<String>>,
    /// The client certificate's private key (PEM).
    #[serde(default)]
    pub key: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioTable {
    pub name: Spanned<String>,
    /// Shown as the scenario's heading [default: the request].
    #[serde(default)]
    pub title: Option<String>,
    /// One request, `METHOD PATH`.
    #[serde(default)]
    pub request: Option<Spanned<String>>,
    /// A ferry target file (weighted requests), relative to the lab file's folder.
    #[serde(default)]
    pub requests: Option<Spanned<String>>,
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub body: Option<Spanned<String>>,
    #[serde(default)]
    pub body_file: Option<Spanned<String>>,
    /// Values files for `{name}` in the request, by name.
    #[serde(default)]
    pub values: BTreeMap<String, Spanned<String>>,
    /// `random` (default) or `round-robin`: how values are drawn from the values files.
    #[serde(default)]
    pub values_order: Option<Spanned<String>>,
    #[serde(default)]
    pub connections: Option<Spanned<usize>>,
    /// Keep-alive connections opened to the target before each measured run (each sends one
    /// `GET` of the target's `ready` path) and held idle until the run ends [default: 0].
    #[serde(default)]
    pub idle_connections: Option<Spanned<usize>>,
    /// Measured length [default: 5s]; `--duration` and `--quick` replace it.
    #[serde(default)]
    pub duration: Option<Spanned<String>>,
    /// An open-model rate schedule instead of the closed model; rates may be `N%` of
    /// `relative_to`'s throughput.
    #[serde(default)]
    pub rate: Option<Spanned<String>>,
    /// The scenario whose slowest target's closed-model throughput is 100% of `rate`.
    #[serde(default)]
    pub relative_to: Option<Spanned<String>>,
    /// Search this scenario's capacity at the lab's SLO.
    #[serde(default)]
    pub capacity: bool,
    /// The statuses that are not errors [default: every 2xx and 3xx].
    #[serde(default)]
    pub expect: Option<Spanned<Vec<u16>>>,
    /// `[[scenario.flow]]`: chained steps instead of `request`/`requests`.
    #[serde(default)]
    pub flow: Vec<FlowStepTable>,
}

/// One `[[scenario.flow]]` step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowStepTable {
    /// Shown in reports [default: the request].
    #[serde(default)]
    pub name: Option<Spanned<String>>,
    /// `METHOD /path`.
    pub request: Spanned<String>,
    #[serde(default)]
    pub body: Option<Spanned<String>>,
    /// Added to the scenario's headers (the step's win over the scenario's).
    #[serde(default)]
    pub headers: BTreeMap<String, Spanned<String>>,
    /// Placeholder name → JSON Pointer into the response body.
    #[serde(default)]
    pub extract: BTreeMap<String, Spanned<String>>,
    /// A pause before the step's request: `"50ms"`.
    #[serde(default)]
    pub think: Option<Spanned<String>>,
    /// The statuses that are not errors for this step [default: the scenario's].
    #[serde(default)]
    pub expect: Option<Spanned<Vec<u16>>>,
}
