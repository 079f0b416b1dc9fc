//! `ferry report --merge`: the runs of several load hosts, each a share of one load, as one
//! run. Histograms are added bucket by bucket, so every percentile of the merge is that of
//! one histogram of all the requests; the timeline is aligned by wall clock and merged second
//! by second from the per-second histograms, so it is exact too.

pub mod checks;

use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use crate::load::histogram::new_latency_histogram;
use crate::load::result::{
    self, MergedPart, RunResult, SecondPoint, SerializedHistograms, SettingsRecord,
};
use crate::load::{Share, Tally, latency, totals};

use super::NamedRun;

/// A merged run and what the user should know about it.
#[derive(Debug)]
pub struct Merged {
    pub result: RunResult,
    /// Caveats that did not prevent the merge (missing shares, starts far apart).
    pub warnings: Vec<String>,
}

/// Merges `runs`, each named after its file; refuses runs that are not shares of one load.
pub fn merge(runs: &[NamedRun]) -> Result<Merged> {
    let warnings = checks::check(runs)?;
    let earliest = runs
        .iter()
        .map(|run| run.result.started_at_unix_ms)
        .min()
        .context("checked: at least two runs")?;
    // Each run's second 0 lands on the merged second nearest its own start.
    let offsets: Vec<u64> = runs
        .iter()
        .map(|run| ((run.result.started_at_unix_ms - earliest) as f64 / 1000.0).round() as u64)
        .collect();

    let mut corrected = new_latency_histogram();
    let mut service = new_latency_histogram();
    let mut tally = Tally::default();
    let mut warmup_requests = 0;
    let mut interrupted = false;
    let mut end_ms = earliest;
    for run in runs {
        let result = &run.result;
        add(&mut corrected, &result.histograms.corrected()?, &run.name)?;
        add(&mut service, &result.histograms.service()?, &run.name)?;
        tally.add(&tally_of(result));
        warmup_requests += result.totals.warmup_requests;
        interrupted |= result.totals.interrupted;
        end_ms = end_ms
            .max(result.started_at_unix_ms + (result.totals.duration_s * 1000.0).round() as u64);
    }
    let measured = Duration::from_millis(end_ms - earliest);
    // After the run histograms, whose decoding checks each file's encoding.
    let time_series = merge_timeline(runs, &offsets)?;

    let (merged_from, host) = parts(runs, &offsets);
    let result = RunResult {
        schema_version: result::SCHEMA_VERSION,
        ferry_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at_unix_ms: earliest,
        host,
        share: Share::WHOLE,
        merged_from,
        settings: summed_settings(runs),
        totals: totals(&tally, warmup_requests, measured, interrupted),
        latency: latency(&corrected, &service),
        time_series,
        histograms: SerializedHistograms::encode(&corrected, &service)?,
        // Refused by `checks::check`: a flow's parts are not merged.
        flow: None,
    };
    Ok(Merged { result, warnings })
}

/// The parts of the merge (a merged input brings its own parts), placed on the merged
/// timeline, and the hosts' names joined by `+`.
fn parts(runs: &[NamedRun], offsets: &[u64]) -> (Vec<MergedPart>, String) {
    let mut merged_from = Vec::new();
    for (run, offset) in runs.iter().zip(offsets) {
        merged_from.extend(checks::parts_of(run).into_iter().map(|part| MergedPart {
            second_offset: part.second_offset + offset,
            ..part
        }));
    }
    let mut hosts: Vec<&str> = Vec::new();
    for part in &merged_from {
        if !hosts.contains(&part.host.as_str()) {
            hosts.push(&part.host);
        }
    }
    let host = hosts.join("+");
    (merged_from, host)
}

/// The first run's settings (the checks made them the same load's), with what the shares
/// divided added back up.
fn summed_settings(runs: &[NamedRun]) -> SettingsRecord {
    let mut settings = runs[0].result.settings.clone();
    let sum = |value: fn(&RunResult) -> Option<u64>| -> Option<u64> {
        runs.iter().map(|run| value(&run.result)).sum()
    };
    settings.connections = runs.iter().map(|run| run.result.settings.connections).sum();
    settings.threads = runs.iter().map(|run| run.result.settings.threads).sum();
    settings.request_limit = sum(|result| result.settings.request_limit);
    settings.backlog_limit = sum(|result| result.settings.backlog_limit.map(|limit| limit as u64))
        .map(|limit| limit as usize);
    settings
}

/// One point per merged second: the sum of the runs' points that fall in it.
fn merge_timeline(runs: &[NamedRun], offsets: &[u64]) -> Result<Vec<SecondPoint>> {
    let length = runs
        .iter()
        .zip(offsets)
        .map(|(run, offset)| offset + run.result.time_series.len() as u64)
        .max()
        .unwrap_or(0);
    let mut series = Vec::with_capacity(length as usize);
    for second in 0..length {
        let mut corrected = new_latency_histogram();
        let mut service = new_latency_histogram();
        let mut tally = Tally::default();
        for (run, offset) in runs.iter().zip(offsets) {
            let Some(point) = second
                .checked_sub(*offset)
                .and_then(|own| run.result.time_series.get(own as usize))
            else {
                continue;
            };
            let histograms = point
                .histograms
                .as_ref()
                .context("checked: every point has its histograms")?;
            let (own_corrected, own_service) = histograms
                .decode()
                .with_context(|| format!("second {} of {}", point.second, run.name))?;
            add(&mut corrected, &own_corrected, &run.name)?;
            add(&mut service, &own_service, &run.name)?;
            tally.add(&point.tally());
        }
        series.push(SecondPoint::new(second, &corrected, &service, &tally)?);
    }
    Ok(series)
}

fn add(sum: &mut Histogram<u64>, part: &Histogram<u64>, name: &str) -> Result<()> {
    sum.add(part)
        .map_err(|error| anyhow::anyhow!("adding the histograms of {name}: {error:?}"))
}

/// A run's totals as a tally, to add up.
fn tally_of(result: &RunResult) -> Tally {
    let totals = &result.totals;
    Tally {
        requests: totals.requests,
        responses: totals.responses,
        errors: totals.errors.clone(),
        late: totals.late,
        dropped: totals.dropped,
        body_bytes: totals.body_bytes,
        status: totals.status.clone(),
        error_status: totals.error_status.clone(),
        connects: totals.connects,
        connect_time_us: total_of(totals.connect_time_us_mean, totals.connects),
        handshakes: totals.handshakes,
        handshake_time_us: total_of(totals.handshake_time_us_mean, totals.handshakes),
    }
}

/// A sum back from its mean and count (a part's connect or handshake times).
fn total_of(mean: Option<f64>, count: u64) -> u64 {
    mean.map_or(0, |mean| (mean * count as f64).round() as u64)
}
