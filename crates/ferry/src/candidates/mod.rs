//! `ferry candidates`: which services, and which of their routes, would gain most from a
//! move to compiled code, read from the team's own Prometheus.
//!
//! For every service it asks request rate, p50 and p99 (from aggregated bucket rates), 5xx
//! ratio, CPU cores and CPU per request, RSS and, where exported, Node's GC time and
//! event-loop lag; for the routes of the top services the same, plus each route's CPU cost
//! estimated by regression ([`route_cpu`]). It classes each workload and ranks by the score
//! of [`workload`]. The output is a table, a JSON report ([`report`]) and, optionally, a
//! ferry target file of the top candidate's route mix ([`target_file`]).

mod gather;
pub mod nnls;
pub mod prometheus;
pub mod queries;
pub mod report;
pub mod route_cpu;
mod routes;
mod services;
pub mod target_file;
pub mod workload;

use std::time::Duration;

use anyhow::Result;

pub use queries::{Labels, MetricNames};
pub use report::CandidatesReport;

/// What `ferry candidates` needs to know.
#[derive(Debug, Clone)]
pub struct CandidatesSettings {
    pub connection: prometheus::Connection,
    /// How far back to look.
    pub window: Duration,
    pub labels: Labels,
    pub metrics: MetricNames,
    /// How many of the top services get their routes broken down.
    pub top: usize,
    /// Step of the `query_range` samples the route CPU is fitted on; `None`: the window
    /// over 120, at least the scrape interval.
    pub step: Option<Duration>,
    /// The servers' scrape interval: range-query rates look back over four of them.
    pub scrape_interval: Duration,
}

/// Asks Prometheus and builds the ranked report.
pub fn run(settings: &CandidatesSettings) -> Result<CandidatesReport> {
    let client = prometheus::Prometheus::connect(&settings.connection)?;
    gather::gather(&client, settings)
}
