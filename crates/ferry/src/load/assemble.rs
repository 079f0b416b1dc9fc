//! Turning what a run measured into its [`RunResult`]: the settings record, the totals and
//! the latency summaries. `ferry report --merge` builds its result from the same pieces.

use std::time::Duration;

use anyhow::Result;
use hdrhistogram::Histogram;

use super::collector::Collector;
use super::flow::FlowRecord;
use super::outcome::Tally;
use super::result::{
    self, Latency, Percentiles, RunResult, SerializedHistograms, SettingsRecord, TargetRecord,
    Totals, percentile_curve,
};
use super::settings::{HttpVersion, LoadSettings, Model};

/// What a run knows about itself besides its settings and its measurements.
#[derive(Debug, Clone)]
pub struct RunFacts {
    /// Worker threads it ran.
    pub threads: usize,
    /// Wall-clock start of the measured part by this host's clock, in ms since the epoch.
    pub started_at_unix_ms: u64,
    /// Length of the measured part.
    pub measured: Duration,
    /// Stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// The result of a run of `settings` whose measurements are in `collector`.
pub fn assemble(
    settings: &LoadSettings,
    facts: &RunFacts,
    collector: &Collector,
) -> Result<RunResult> {
    Ok(RunResult {
        schema_version: result::SCHEMA_VERSION,
        ferry_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at_unix_ms: facts.started_at_unix_ms,
        host: host_name(),
        share: settings.share,
        merged_from: Vec::new(),
        settings: settings_record(settings, facts.threads),
        totals: totals(
            &collector.tally,
            collector.warmup_requests,
            facts.measured,
            facts.interrupted,
        ),
        latency: latency(&collector.corrected, &collector.service),
        time_series: collector.series.clone(),
        histograms: SerializedHistograms::encode(&collector.corrected, &collector.service)?,
        flow: match (&settings.flow, &collector.flow) {
            (Some(flow), Some(tally)) => {
                Some(FlowRecord::new(flow, tally, facts.measured.as_secs_f64())?)
            }
            _ => None,
        },
    })
}

fn settings_record(settings: &LoadSettings, threads: usize) -> SettingsRecord {
    let (model, rate_schedule, request_limit, backlog_limit) = match &settings.model {
        Model::Closed { requests } => (
            "closed",
            None,
            requests.map(|requests| settings.share.portion(requests)),
            None,
        ),
        Model::Open { schedule, .. } => (
            "open",
            Some(schedule.to_string()),
            None,
            // This part's bound: the whole load's is divided like its connections.
            Some(
                settings
                    .backlog_limit()
                    .div_ceil(settings.share.count as usize),
            ),
        ),
    };
    SettingsRecord {
        model: model.to_string(),
        rate_schedule,
        request_limit,
        targets: settings
            .targets
            .iter()
            .map(|target| TargetRecord {
                name: target.name.clone(),
                method: target.method.clone(),
                url: target.url.clone(),
                weight: target.weight,
            })
            .collect(),
        connections: settings.share_connections(),
        threads,
        http: settings.http,
        streams_per_connection: match settings.http {
            HttpVersion::Http1 => 1,
            HttpVersion::Http2 => settings.streams_per_connection.max(1),
        },
        duration_s: settings
            .measured_duration()
            .map(|duration| duration.as_secs_f64()),
        warmup_s: settings.warmup.as_secs_f64(),
        timeout_ms: settings.timeout.as_millis() as u64,
        backlog_limit,
        // What was agreed is known from the run's first handshake (`load::run` sets it).
        tls: None,
    }
}

/// The totals of a measured run of length `measured` from its tally.
pub fn totals(
    tally: &Tally,
    warmup_requests: u64,
    measured: Duration,
    interrupted: bool,
) -> Totals {
    let seconds = measured.as_secs_f64();
    let per_second = |count: u64| {
        if seconds > 0.0 {
            count as f64 / seconds
        } else {
            0.0
        }
    };
    let error_count = tally.errors.total();
    let successes = tally.responses - tally.error_status.values().sum::<u64>();
    Totals {
        duration_s: seconds,
        requests: tally.requests,
        responses: tally.responses,
        successes,
        throughput_rps: per_second(tally.responses),
        request_rate_rps: per_second(tally.requests),
        errors: tally.errors.clone(),
        error_count,
        error_ratio: if tally.requests > 0 {
            error_count as f64 / tally.requests as f64
        } else {
            0.0
        },
        late: tally.late,
        dropped: tally.dropped,
        body_bytes: tally.body_bytes,
        status: tally.status.clone(),
        error_status: tally.error_status.clone(),
        warmup_requests,
        interrupted,
        connects: tally.connects,
        connect_time_us_mean: mean(tally.connect_time_us, tally.connects),
        handshakes: tally.handshakes,
        handshake_time_us_mean: mean(tally.handshake_time_us, tally.handshakes),
    }
}

/// `sum / count`, unknown without a count.
fn mean(sum: u64, count: u64) -> Option<f64> {
    (count > 0).then(|| sum as f64 / count as f64)
}

/// The latency summaries of a run's two histograms.
pub fn latency(corrected: &Histogram<u64>, service: &Histogram<u64>) -> Latency {
    Latency {
        corrected: Percentiles::of(corrected),
        service: Percentiles::of(service),
        corrected_curve: percentile_curve(corrected),
        service_curve: percentile_curve(service),
    }
}

/// This machine's host name, for telling the parts of a distributed run apart.
#[cfg(target_os = "linux")]
fn host_name() -> String {
    nix::unistd::gethostname().map_or_else(
        |_| "unknown".to_string(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// This machine's host name, for telling the parts of a distributed run apart.
#[cfg(not(target_os = "linux"))]
fn host_name() -> String {
    std::env::var("HOSTNAME")
        .or_else(|_| std::env::var("COMPUTERNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}
