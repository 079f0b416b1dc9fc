//! Whether runs can be merged: the same load (targets and schedule), shares of one split that
//! don't overlap, per-second histograms present, and starts that agree.

use std::collections::BTreeMap;

use anyhow::{Result, bail};

use crate::load::result::{MergedPart, RunResult, SettingsRecord};
use crate::load::{HttpVersion, Share};

use crate::report::NamedRun;

/// Starts further apart than this get a warning: the parts' seconds no longer line up well.
pub const START_TOLERANCE_MS: u64 = 100;

/// Refuses runs that are not parts of one load; returns the warnings for the ones that merge
/// with a caveat.
pub fn check(runs: &[NamedRun]) -> Result<Vec<String>> {
    if runs.len() < 2 {
        bail!("--merge needs at least two runs");
    }
    let first = &runs[0];
    for run in &runs[1..] {
        same_targets(first, run)?;
        same_schedule(first, run)?;
    }
    for run in runs {
        has_second_histograms(run)?;
        if run.result.flow.is_some() {
            bail!(
                "{} is a flow's run: --merge adds requests second by second, and does not \
                 merge a flow's iterations and steps",
                run.name
            );
        }
    }
    let mut warnings = shares_fit(runs)?;
    warnings.extend(starts_agree(runs));
    Ok(warnings)
}

fn same_targets(first: &NamedRun, other: &NamedRun) -> Result<()> {
    let describe = |run: &NamedRun| {
        run.result
            .settings
            .targets
            .iter()
            .map(|target| {
                format!(
                    "{} {} (weight {})",
                    target.method, target.url, target.weight
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (a, b) = (describe(first), describe(other));
    if a != b {
        bail!(
            "{} and {} ran different targets, so they are not parts of one load: {a} vs {b}",
            first.name,
            other.name
        );
    }
    Ok(())
}

/// The schedule of a run as it matters for merging: model, rate schedule, durations and
/// protocol (not the connection or request counts, which a share divides).
pub fn schedule_text(settings: &SettingsRecord) -> String {
    let model = match &settings.rate_schedule {
        Some(schedule) => format!("open model at `{schedule}`"),
        None => "closed model".to_string(),
    };
    let duration = settings.duration_s.map_or_else(
        || "until its request count".to_string(),
        |seconds| format!("for {seconds} s"),
    );
    let http = match settings.http {
        HttpVersion::Http1 => "HTTP/1.1".to_string(),
        HttpVersion::Http2 => format!("HTTP/2 × {} streams", settings.streams_per_connection),
    };
    format!(
        "{model} {duration} after {} s warm-up, {http}, timeout {} ms",
        settings.warmup_s, settings.timeout_ms
    )
}

fn same_schedule(first: &NamedRun, other: &NamedRun) -> Result<()> {
    let (a, b) = (
        schedule_text(&first.result.settings),
        schedule_text(&other.result.settings),
    );
    if a != b {
        bail!(
            "{} and {} ran different schedules, so they are not parts of one load: {a} vs {b}",
            first.name,
            other.name
        );
    }
    Ok(())
}

fn has_second_histograms(run: &NamedRun) -> Result<()> {
    if run
        .result
        .time_series
        .iter()
        .any(|point| point.histograms.is_none())
    {
        bail!(
            "{} has no per-second histograms (an older ferry wrote it), so its timeline cannot \
             be merged exactly: run it again with this ferry",
            run.name
        );
    }
    Ok(())
}

/// The shares a result holds: its own, or, for a merge, those of its parts.
pub fn parts_of(run: &NamedRun) -> Vec<MergedPart> {
    if run.result.merged_from.is_empty() {
        vec![part_of(&run.name, &run.result)]
    } else {
        run.result.merged_from.clone()
    }
}

fn part_of(file: &str, result: &RunResult) -> MergedPart {
    MergedPart {
        file: file.to_string(),
        host: result.host.clone(),
        share: result.share,
        started_at_unix_ms: result.started_at_unix_ms,
        second_offset: 0,
        requests: result.totals.requests,
    }
}

/// Every share must come from one split (the same N) and appear once; missing shares merge
/// with a warning, since the result then holds only part of the load.
fn shares_fit(runs: &[NamedRun]) -> Result<Vec<String>> {
    let mut seen: BTreeMap<Share, String> = BTreeMap::new();
    let mut count: Option<(u32, String)> = None;
    for run in runs {
        for part in parts_of(run) {
            match &count {
                None => count = Some((part.share.count, part.file.clone())),
                Some((n, file)) if *n != part.share.count => bail!(
                    "{} is share {} but {file} is a share of {n}: the runs come from different \
                     splits of the load",
                    part.file,
                    part.share
                ),
                Some(_) => {}
            }
            if let Some(other) = seen.insert(part.share, part.file.clone()) {
                bail!(
                    "overlapping shares: {other} and {} are both share {}, so the merge would \
                     count that part of the load twice; give each host its own --share I/N",
                    part.file,
                    part.share
                );
            }
        }
    }
    let Some((n, _)) = count else {
        return Ok(Vec::new());
    };
    let missing: Vec<String> = (1..=n)
        .map(|index| Share { index, count: n })
        .filter(|share| !seen.contains_key(share))
        .map(|share| share.to_string())
        .collect();
    Ok(if missing.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "share {} missing: the merge holds {} of the {n} parts of the load",
            missing.join(", "),
            seen.len()
        )]
    })
}

fn starts_agree(runs: &[NamedRun]) -> Option<String> {
    let starts: Vec<(u64, &str)> = runs
        .iter()
        .map(|run| (run.result.started_at_unix_ms, run.name.as_str()))
        .collect();
    let (earliest, first) = starts.iter().min()?;
    let (latest, last) = starts.iter().max()?;
    let spread = latest - earliest;
    (spread > START_TOLERANCE_MS).then(|| {
        format!(
            "the runs' starts disagree by {spread} ms ({first} first, {last} last), more than \
             {START_TOLERANCE_MS} ms: their seconds are aligned to the nearest whole second; \
             start them with one --start-at and keep the hosts' clocks in sync (NTP)"
        )
    })
}
