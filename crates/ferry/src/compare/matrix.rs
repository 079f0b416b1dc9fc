//! The comparison's results: the JSON document (schema in docs/ferry.md, "ferry compare") and
//! the matrix rendered as markdown, one row per metric, one column per target and the
//! Rust/Node ratio.

use std::fmt::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::units::{format_count, format_micros};

use super::capacity::Capacity;
use super::cold_start::ColdStart;
use super::pgbench::PgbenchResult;
use super::scenarios::{RoundRun, ScenarioSummary};

/// Version of the compare JSON layout.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompareReport {
    pub schema_version: u32,
    pub ferry_version: String,
    pub started_at_unix_ms: u64,
    pub wall_time_s: f64,
    /// The command as typed.
    pub command: String,
    pub cores: usize,
    pub database: String,
    pub settings: SettingsRecord,
    /// In run order: `node` first when present, then `rust`.
    pub targets: Vec<TargetReport>,
    pub pgbench: Option<PgbenchResult>,
    /// Node instances / Rust instances for `settings.target_rps`.
    pub consolidation_ratio: Option<f64>,
    /// Things a reader must know (Node missing, the load generator shares the machine, ...).
    pub notes: Vec<String>,
    /// False when a phase failed or the run was interrupted; `failure` says why.
    pub complete: bool,
    pub failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsRecord {
    pub users: u64,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub rounds: u32,
    pub connections: usize,
    pub pool_size: u32,
    pub workers: usize,
    pub slo_p99_ms: f64,
    pub slo_error_ratio: f64,
    pub target_rps: f64,
    pub process_records: usize,
    pub burst_schedule: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetReport {
    /// `node` or `rust`.
    pub name: String,
    pub cold_start: Option<ColdStart>,
    pub scenarios: Vec<ScenarioReport>,
    pub capacity: Option<Capacity>,
    /// Instances needed for `settings.target_rps` at the capacity.
    pub instances: Option<u64>,
    /// GET throughput (closed model) / pgbench tps.
    pub pgbench_fraction: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioReport {
    /// `get-user`, `get-user-burst`, `post-user`, `process`.
    pub scenario: String,
    pub title: String,
    pub summary: ScenarioSummary,
    pub rounds: Vec<RoundRun>,
}

impl CompareReport {
    pub fn target(&self, name: &str) -> Option<&TargetReport> {
        self.targets.iter().find(|target| target.name == name)
    }

    pub fn write_json(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("serialising the comparison")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }
}

impl TargetReport {
    pub fn scenario(&self, key: &str) -> Option<&ScenarioReport> {
        self.scenarios
            .iter()
            .find(|scenario| scenario.scenario == key)
    }
}

/// One row of the matrix: a label and a value per target (`None`: not measured).
pub struct Row {
    pub label: String,
    pub values: Vec<Option<f64>>,
    pub format: fn(f64) -> String,
}

fn micros(value: f64) -> String {
    format_micros(value)
}
fn rate(value: f64) -> String {
    format!("{}/s", format_count(value.round() as u64))
}
fn count(value: f64) -> String {
    format_count(value.round() as u64)
}
fn percent(value: f64) -> String {
    format!("{value:.0}%")
}
fn mebibytes(value: f64) -> String {
    format!("{:.1} MiB", value / (1024.0 * 1024.0))
}
fn millis(value: f64) -> String {
    format!("{value:.0} ms")
}
fn fraction(value: f64) -> String {
    format!("{:.1}%", value * 100.0)
}

/// A scenario metric: its name, how to read it, how to print it.
type Metric = (&'static str, fn(&ScenarioSummary) -> f64, fn(f64) -> String);

/// The matrix rows, in the order they are shown.
pub fn rows(report: &CompareReport) -> Vec<Row> {
    let targets = &report.targets;
    let mut rows = Vec::new();
    let mut scenario_keys: Vec<(String, String)> = Vec::new();
    for target in targets {
        for scenario in &target.scenarios {
            if !scenario_keys
                .iter()
                .any(|(key, _)| *key == scenario.scenario)
            {
                scenario_keys.push((scenario.scenario.clone(), scenario.title.clone()));
            }
        }
    }
    for (key, _) in &scenario_keys {
        let get = |pick: fn(&ScenarioSummary) -> f64| -> Vec<Option<f64>> {
            targets
                .iter()
                .map(|target| target.scenario(key).map(|s| pick(&s.summary)))
                .collect()
        };
        let metrics: [Metric; 8] = [
            ("throughput", |s| s.throughput_rps, rate),
            ("p50", |s| s.p50_us as f64, micros),
            ("p99", |s| s.p99_us as f64, micros),
            ("p99.9", |s| s.p99_9_us as f64, micros),
            ("errors", |s| (s.errors + s.dropped) as f64, count),
            ("CPU mean (of one core)", |s| s.cpu_mean_percent, percent),
            ("CPU per 1k req/s", |s| s.cpu_percent_per_1k_rps, percent),
            ("RSS peak", |s| s.rss_peak_bytes as f64, mebibytes),
        ];
        for (name, pick, format) in metrics {
            rows.push(Row {
                label: format!("{key}: {name}"),
                values: get(pick),
                format,
            });
        }
    }
    let cold = |pick: fn(&ColdStart) -> f64| -> Vec<Option<f64>> {
        targets
            .iter()
            .map(|target| target.cold_start.as_ref().map(pick))
            .collect()
    };
    rows.push(Row {
        label: "cold start median".into(),
        values: cold(|c| c.median_ms),
        format: millis,
    });
    rows.push(Row {
        label: "cold start max".into(),
        values: cold(|c| c.max_ms),
        format: millis,
    });
    rows.push(Row {
        label: "idle RSS".into(),
        values: cold(|c| c.idle_rss_bytes as f64),
        format: mebibytes,
    });
    let slo_ms = report.settings.slo_p99_ms;
    rows.push(Row {
        label: format!("capacity at p99 ≤ {slo_ms} ms (GET)"),
        values: targets
            .iter()
            .map(|target| target.capacity.as_ref().and_then(|c| c.rate_rps))
            .collect(),
        format: rate,
    });
    rows.push(Row {
        label: format!("instances for {}", rate(report.settings.target_rps)),
        values: targets
            .iter()
            .map(|target| target.instances.map(|n| n as f64))
            .collect(),
        format: count,
    });
    rows.push(Row {
        label: "GET throughput / pgbench -S".into(),
        values: targets
            .iter()
            .map(|target| target.pgbench_fraction)
            .collect(),
        format: fraction,
    });
    rows
}

/// The matrix as a markdown table, followed by the consolidation ratio and the reference.
pub fn render_markdown(report: &CompareReport) -> String {
    let names: Vec<&str> = report.targets.iter().map(|t| t.name.as_str()).collect();
    let node = names.iter().position(|name| *name == "node");
    let rust = names.iter().position(|name| *name == "rust");
    let with_ratio = node.is_some() && rust.is_some();
    let mut out = String::new();
    let _ = write!(out, "| metric |");
    for name in &names {
        let _ = write!(out, " {} |", display_name(name));
    }
    if with_ratio {
        out.push_str(" Rust / Node |");
    }
    out.push('\n');
    out.push_str("| --- |");
    for _ in &names {
        out.push_str(" ---: |");
    }
    if with_ratio {
        out.push_str(" ---: |");
    }
    out.push('\n');
    for row in rows(report) {
        let _ = write!(out, "| {} |", row.label);
        for value in &row.values {
            let _ = write!(out, " {} |", value.map_or("—".to_string(), row.format));
        }
        if let (Some(node), Some(rust)) = (node, rust) {
            let _ = write!(out, " {} |", ratio(row.values[rust], row.values[node]));
        }
        out.push('\n');
    }
    out.push('\n');
    if let Some(ratio) = report.consolidation_ratio {
        let _ = writeln!(
            out,
            "Consolidation ratio for {}: **{ratio:.2}** Node instances per Rust instance.",
            rate(report.settings.target_rps)
        );
    }
    if let Some(pgbench) = &report.pgbench {
        let _ = writeln!(
            out,
            "Database ceiling (`pgbench -S -M prepared`, {} clients, {:.0} s): {}.",
            pgbench.clients,
            pgbench.duration_s,
            rate(pgbench.tps)
        );
    }
    out
}

pub fn display_name(name: &str) -> &str {
    match name {
        "node" => "Node",
        "rust" => "Rust",
        other => other,
    }
}

/// `rust / node` as `×1.23`, or `—` when either is missing or the base is zero.
pub fn ratio(rust: Option<f64>, node: Option<f64>) -> String {
    match (rust, node) {
        (Some(rust), Some(node)) if node != 0.0 => format!("×{:.2}", rust / node),
        (Some(0.0), Some(_)) => "×1.00".into(),
        _ => "—".into(),
    }
}
