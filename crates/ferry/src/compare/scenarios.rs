//! The scenarios, identical for both targets: what each sends, how, and one measured run of
//! it with the target's CPU and memory sampled alongside.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::load::{LoadSettings, Model, RateSchedule, RunResult, Target};

use super::sampler::{Sample, Sampler, summarise};
use super::settings::CompareSettings;

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Scenario {
    /// `GET /users/{id}`, random seeded ids, closed model: the hot read path at full tilt.
    GetUser,
    /// The same at stepped open-model rates: base, burst, base.
    GetUserBurst,
    /// `POST /users` with a unique email each, closed model.
    PostUser,
    /// `POST /api/v1/process` with the fixed batch, closed model: CPU-bound work.
    Process,
}

impl Scenario {
    pub const ALL: [Scenario; 4] = [
        Scenario::GetUser,
        Scenario::GetUserBurst,
        Scenario::PostUser,
        Scenario::Process,
    ];

    /// The name in JSON and tables.
    pub fn key(self) -> &'static str {
        match self {
            Scenario::GetUser => "get-user",
            Scenario::GetUserBurst => "get-user-burst",
            Scenario::PostUser => "post-user",
            Scenario::Process => "process",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Scenario::GetUser => "GET /users/{id}, closed model",
            Scenario::GetUserBurst => "GET /users/{id}, stepped open model (burst)",
            Scenario::PostUser => "POST /users, closed model",
            Scenario::Process => "POST /api/v1/process, fixed batch, closed model",
        }
    }

    /// Closed-model connections. The process endpoint is CPU-bound: two batches in flight per
    /// worker keep every core busy, and more would only queue, or be shed (the Rust service
    /// admits 5 per core and answers 503 beyond, by design).
    fn connections(self, settings: &CompareSettings) -> usize {
        match self {
            Scenario::Process => (settings.workers * 2).clamp(1, settings.connections),
            Scenario::GetUserBurst => settings.connections * 2,
            Scenario::GetUser | Scenario::PostUser => settings.connections,
        }
    }
}

/// What the requests are made of.
pub struct Inputs {
    /// Seeded user ids.
    pub ids: Arc<Vec<String>>,
    /// A token with `users:read users:write`.
    pub token: String,
    /// The `/api/v1/process` body.
    pub process_body: String,
}

/// The stepped schedule text for `steps` (`rate/s:duration,...`).
pub fn schedule_text(steps: &[(f64, Duration)]) -> String {
    steps
        .iter()
        .map(|(rate, duration)| format!("{rate:.0}/s:{}ms", duration.as_millis()))
        .collect::<Vec<_>>()
        .join(",")
}

/// The load run of `scenario` against `base_url`. `burst` is the stepped schedule (needed by
/// [`Scenario::GetUserBurst`] only); `seed` must differ per run, so that the unique emails
/// of [`Scenario::PostUser`] never repeat.
pub fn load_settings(
    scenario: Scenario,
    base_url: &str,
    inputs: &Inputs,
    settings: &CompareSettings,
    burst: Option<&RateSchedule>,
    seed: u64,
) -> Result<LoadSettings> {
    let mut target = match scenario {
        Scenario::GetUser | Scenario::GetUserBurst => {
            let mut target = Target::get(&format!("{base_url}/users/{{id}}"));
            target.values.insert("id".into(), inputs.ids.clone());
            target
        }
        Scenario::PostUser => {
            let mut target = Target::get(&format!("{base_url}/users"));
            target.method = "POST".into();
            // `{uuid}` is the load engine's built-in generator: a fresh one per request.
            target.body = Some(r#"{"email":"ferry-{uuid}@example.com"}"#.into());
            target
        }
        Scenario::Process => {
            let mut target = Target::get(&format!("{base_url}/api/v1/process"));
            target.method = "POST".into();
            target.body = Some(inputs.process_body.clone());
            target
        }
    };
    target.name = scenario.key().into();
    target
        .headers
        .push(("authorization".into(), format!("Bearer {}", inputs.token)));
    if target.body.is_some() {
        target
            .headers
            .push(("content-type".into(), "application/json".into()));
    }
    let mut load = LoadSettings::closed(
        &target.url,
        scenario.connections(settings),
        settings.duration,
    );
    load.targets = vec![target];
    load.warmup = settings.warmup;
    load.seed = seed;
    if scenario == Scenario::GetUserBurst {
        let schedule = burst
            .context("the burst scenario runs after the closed GET that sizes it")?
            .clone();
        load.duration = schedule.natural_duration();
        load.model = Model::Open {
            schedule,
            max_backlog: None,
        };
    }
    Ok(load)
}

/// One measured run of one scenario against one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRun {
    /// 1-based.
    pub round: u32,
    /// Mean CPU of the target's process tree during the run, in % of one core.
    pub cpu_mean_percent: f64,
    /// Peak RSS of the target's process tree during the run.
    pub rss_peak_bytes: u64,
    /// Every 100 ms, from the start of the warm-up.
    pub samples: Vec<Sample>,
    pub result: RunResult,
}

/// Runs `load` against the target whose top process is `pid`, sampling it meanwhile.
pub fn run_round(
    load: &LoadSettings,
    pid: u32,
    round: u32,
    stop: Arc<AtomicBool>,
) -> Result<RoundRun> {
    let sampler = Sampler::start(pid)?;
    let outcome = crate::load::run_until_stopped(load, stop);
    let samples = sampler.finish();
    let result = outcome?;
    // Only the measured part counts for the CPU mean; the warm-up is in the samples for the
    // charts.
    let warmup = load.warmup.as_secs_f64();
    let measured: Vec<Sample> = samples
        .iter()
        .copied()
        .filter(|s| s.t_s >= warmup)
        .collect();
    let (cpu_mean_percent, _) = summarise(&measured);
    let (_, rss_peak_bytes) = summarise(&samples);
    Ok(RoundRun {
        round,
        cpu_mean_percent,
        rss_peak_bytes,
        samples,
        result,
    })
}

/// The rounds of a scenario on one target, merged: histograms added bucket by bucket.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    /// Responses per second over all measured rounds.
    pub throughput_rps: f64,
    pub requests: u64,
    pub responses: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p99_9_us: u64,
    pub max_us: u64,
    /// Transport errors plus 4xx and 5xx responses.
    pub errors: u64,
    pub error_ratio: f64,
    pub late: u64,
    pub dropped: u64,
    pub cpu_mean_percent: f64,
    pub rss_peak_bytes: u64,
    /// CPU (in % of one core) per 1,000 responses/s: the cost of the work itself.
    pub cpu_percent_per_1k_rps: f64,
}

pub fn summarise_rounds(rounds: &[RoundRun]) -> Result<ScenarioSummary> {
    let mut merged: Option<Histogram<u64>> = None;
    let mut summary = ScenarioSummary::default();
    let mut seconds = 0.0;
    for round in rounds {
        let totals = &round.result.totals;
        let histogram = round.result.histograms.corrected()?;
        match merged.as_mut() {
            Some(all) => all
                .add(&histogram)
                .context("merging the rounds' histograms")?,
            None => merged = Some(histogram),
        }
        seconds += totals.duration_s;
        summary.requests += totals.requests;
        summary.responses += totals.responses;
        summary.errors += totals.error_count;
        summary.late += totals.late;
        summary.dropped += totals.dropped;
        summary.cpu_mean_percent += round.cpu_mean_percent / rounds.len() as f64;
        summary.rss_peak_bytes = summary.rss_peak_bytes.max(round.rss_peak_bytes);
    }
    if seconds > 0.0 {
        summary.throughput_rps = summary.responses as f64 / seconds;
    }
    if summary.requests > 0 {
        summary.error_ratio = summary.errors as f64 / summary.requests as f64;
    }
    if let Some(histogram) = merged.filter(|histogram| !histogram.is_empty()) {
        summary.p50_us = histogram.value_at_quantile(0.5);
        summary.p99_us = histogram.value_at_quantile(0.99);
        summary.p99_9_us = histogram.value_at_quantile(0.999);
        summary.max_us = histogram.max();
    }
    if summary.throughput_rps > 0.0 {
        summary.cpu_percent_per_1k_rps =
            summary.cpu_mean_percent / (summary.throughput_rps / 1000.0);
    }
    Ok(summary)
}

/// Parses the schedule built by [`schedule_text`].
pub fn burst_schedule(steps: &[(f64, Duration)]) -> Result<RateSchedule> {
    RateSchedule::parse(&schedule_text(steps))
}
