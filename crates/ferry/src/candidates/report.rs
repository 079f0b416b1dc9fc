//! The candidates report: JSON (`--json`) and the terminal table.

use std::fmt::Write;

use serde::Serialize;

use super::route_cpu::CpuFit;
use super::workload::{CPU_BOUND_SHARE, IO_BOUND_SHARE, Workload};

pub const SCHEMA_VERSION: u32 = 1;

/// The whole report; `services` in rank order.
#[derive(Debug, Clone, Serialize)]
pub struct CandidatesReport {
    pub schema_version: u32,
    pub ferry_version: String,
    pub prometheus: String,
    /// The instant every query was evaluated at (Prometheus's clock), Unix seconds.
    pub evaluated_at_unix_s: f64,
    pub window_seconds: f64,
    /// Of the `query_range` samples the route CPU was fitted on.
    pub step_seconds: f64,
    pub rule: Rule,
    pub services: Vec<ServiceReport>,
    pub notes: Vec<String>,
}

/// The workload rule and score, as applied.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub cpu_bound_share: f64,
    pub io_bound_share: f64,
    pub score: &'static str,
}

impl Default for Rule {
    fn default() -> Self {
        Rule {
            cpu_bound_share: CPU_BOUND_SHARE,
            io_bound_share: IO_BOUND_SHARE,
            score: "cpu_cores × min(cpu_share, 1); ties by p99, slowest first",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceReport {
    pub service: String,
    pub rps: f64,
    pub p50_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    pub mean_latency_seconds: Option<f64>,
    pub error_ratio: f64,
    pub cpu_cores: Option<f64>,
    pub cpu_seconds_per_request: Option<f64>,
    pub rss_bytes: Option<f64>,
    /// Seconds of GC pause per second (Node), where exported.
    pub gc_seconds_per_second: Option<f64>,
    /// Mean event-loop lag (Node), where exported.
    pub eventloop_lag_seconds: Option<f64>,
    /// CPU per request over mean latency.
    pub cpu_share: Option<f64>,
    pub workload: Option<Workload>,
    pub reason: String,
    pub score: f64,
    /// Broken down for the top services only; by request rate, highest first.
    pub routes: Vec<RouteReport>,
    /// The regression the routes' CPU comes from (top services with enough samples).
    pub cpu_fit: Option<CpuFit>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RouteReport {
    pub route: String,
    pub method: String,
    pub rps: f64,
    /// Of the service's requests.
    pub share: f64,
    pub p50_seconds: Option<f64>,
    pub p99_seconds: Option<f64>,
    pub mean_latency_seconds: Option<f64>,
    pub error_ratio: f64,
    /// From the fit; null when the route was not fitted.
    pub cpu_seconds_per_request: Option<f64>,
    /// Whether the fit could tell this route apart from the others.
    pub cpu_identifiable: bool,
    pub cpu_share: Option<f64>,
    pub workload: Option<Workload>,
    pub reason: String,
}

impl RouteReport {
    /// `GET /users/{id}`, or the route alone when the metrics have no method.
    pub fn name(&self) -> String {
        if self.method.is_empty() {
            self.route.clone()
        } else {
            format!("{} {}", self.method, self.route)
        }
    }
}

impl CandidatesReport {
    /// The table and notes for the terminal.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Candidates from {} over the last {}, ranked by score = CPU cores × CPU share:\n",
            self.prometheus,
            human_seconds(self.window_seconds)
        );
        let _ = writeln!(
            out,
            "{:<4} {:<18} {:>9} {:>9} {:>9} {:>7} {:>7} {:>10} {:>9} {:>7} {:<10} {:>7}",
            "rank",
            "service",
            "req/s",
            "p50",
            "p99",
            "5xx",
            "cores",
            "CPU/req",
            "RSS",
            "share",
            "workload",
            "score"
        );
        for (rank, service) in self.services.iter().enumerate() {
            let _ = writeln!(
                out,
                "{:<4} {:<18} {:>9.1} {:>9} {:>9} {:>6.2}% {:>7} {:>10} {:>9} {:>7} {:<10} {:>7.3}",
                rank + 1,
                service.service,
                service.rps,
                latency(service.p50_seconds),
                latency(service.p99_seconds),
                service.error_ratio * 100.0,
                service.cpu_cores.map_or("-".into(), |c| format!("{c:.3}")),
                latency(service.cpu_seconds_per_request),
                service
                    .rss_bytes
                    .map_or("-".into(), |b| format!("{:.1} MiB", b / 1_048_576.0)),
                service
                    .cpu_share
                    .map_or("-".into(), |s| format!("{:.0}%", s * 100.0)),
                workload_text(service.workload),
                service.score
            );
        }
        for service in &self.services {
            let _ = writeln!(out, "\n{}: {}", service.service, service.reason);
            if let Some(gc) = service.gc_seconds_per_second {
                let _ = writeln!(out, "  GC: {:.1}% of the time", gc * 100.0);
            }
            if let Some(lag) = service.eventloop_lag_seconds {
                let _ = writeln!(
                    out,
                    "  event-loop lag (p99, mean over the window): {}",
                    latency(Some(lag))
                );
            }
            render_routes(&mut out, service);
        }
        for note in &self.notes {
            let _ = writeln!(out, "\nNote: {note}");
        }
        out
    }
}

/// The route table of one service, the sentences, and the CPU fit.
fn render_routes(out: &mut String, service: &ServiceReport) {
    if service.routes.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "  {:<32} {:>9} {:>6} {:>9} {:>9} {:>10} {:>7} {:<10}",
        "route", "req/s", "share", "p50", "p99", "CPU/req", "share", "workload"
    );
    for route in &service.routes {
        let _ = writeln!(
            out,
            "  {:<32} {:>9.1} {:>5.0}% {:>9} {:>9} {:>10} {:>7} {:<10}",
            route.name(),
            route.rps,
            route.share * 100.0,
            latency(route.p50_seconds),
            latency(route.p99_seconds),
            latency(route.cpu_seconds_per_request),
            route
                .cpu_share
                .map_or("-".into(), |s| format!("{:.0}%", s * 100.0)),
            workload_text(route.workload)
        );
    }
    for route in &service.routes {
        let _ = writeln!(out, "  {}: {}", route.name(), route.reason);
    }
    if let Some(fit) = &service.cpu_fit {
        let _ = writeln!(
            out,
            "  CPU fit over {} samples: idle {:.3} cores. {}",
            fit.samples, fit.idle_cores, fit.note
        );
    }
}

fn workload_text(workload: Option<Workload>) -> &'static str {
    workload.map_or("unknown", Workload::as_str)
}

fn latency(seconds: Option<f64>) -> String {
    match seconds {
        None => "-".into(),
        Some(s) if s >= 1.0 => format!("{s:.2} s"),
        Some(s) if s >= 0.001 => format!("{:.2} ms", s * 1000.0),
        Some(s) => format!("{:.0} µs", s * 1e6),
    }
}

fn human_seconds(seconds: f64) -> String {
    if seconds >= 3600.0 && seconds % 3600.0 == 0.0 {
        format!("{} h", seconds / 3600.0)
    } else if seconds >= 60.0 && seconds % 60.0 == 0.0 {
        format!("{} min", seconds / 60.0)
    } else {
        format!("{seconds} s")
    }
}
