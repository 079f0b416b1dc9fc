//! Replay: every request of a file to the three targets at once, at most `--concurrency`
//! requests in flight and at most `--rate` started per second. Writes are skipped and
//! counted unless `--allow-writes`: sent to some targets only, they would make the data
//! drift apart.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::client::ShadowClient;
use super::report::{ReportContext, RequestCounts, ShadowReport};
use super::request::ShadowRequest;
use super::tally::{Outcomes, ShadowTally};
use super::{ShadowSettings, ShadowTargets, progress};

/// How long a target has to accept a connection before the run starts.
const REACHABLE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct ReplaySettings {
    pub shadow: ShadowSettings,
    pub requests: Vec<ShadowRequest>,
    /// Requests started per second at most.
    pub rate: Option<f64>,
}

/// Runs the replay and returns its report (also written where the settings say). An error
/// means the run could not start: a target unreachable.
pub fn run_replay(settings: ReplaySettings) -> Result<ShadowReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the replay's runtime")?;
    runtime.block_on(replay_all(settings))
}

async fn replay_all(settings: ReplaySettings) -> Result<ShadowReport> {
    let shadow = &settings.shadow;
    let client = shadow.connect(REACHABLE_TIMEOUT).await?;
    let targets = Arc::new(shadow.targets.clone());
    let templates = Arc::new(shadow.templates.clone());
    let tally = Arc::new(Mutex::new(ShadowTally::default()));
    let slots = Arc::new(Semaphore::new(shadow.concurrency.max(1)));
    let bar = progress::progress_bar(shadow.progress, settings.requests.len() as u64);
    let mut counts = RequestCounts {
        read: settings.requests.len() as u64,
        ..RequestCounts::default()
    };
    let mut ticker = settings.rate.map(|rate| {
        let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker
    });
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for request in settings.requests {
        if request.is_write() && !shadow.allow_writes {
            counts.skipped_writes += 1;
            bar.inc(1);
            continue;
        }
        if let Some(ticker) = ticker.as_mut() {
            ticker.tick().await;
        }
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .context("the request slots are never closed")?;
        counts.sent += 1;
        let (client, targets, tally, bar, templates) = (
            client.clone(),
            targets.clone(),
            tally.clone(),
            bar.clone(),
            templates.clone(),
        );
        tasks.spawn(async move {
            let outcomes = three_way(&client, &targets, &request).await;
            let name = templates.endpoint(&request);
            if let Ok(mut tally) = tally.lock() {
                tally.record(&name, &request, &outcomes);
            }
            bar.inc(1);
            drop(slot);
        });
        while let Some(done) = tasks.try_join_next() {
            done.context("a replay task panicked")?;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done.context("a replay task panicked")?;
    }
    bar.finish_and_clear();
    let tally = tally
        .lock()
        .map_err(|_| anyhow::anyhow!("a replay task panicked while counting"))?
        .clone();
    let report = ShadowReport::build(
        &tally,
        ReportContext {
            mode: "replay",
            targets: shadow.targets.urls(),
            requests: counts,
            max_diff_rate: shadow.max_diff_rate,
            ignore: &shadow.ignore,
            warnings: shadow.warnings(),
            insecure: shadow.tls.insecure,
            wall_time_s: started.elapsed().as_secs_f64(),
        },
    );
    shadow.write_reports(&report)?;
    Ok(report)
}

/// Sends `request` to the three targets concurrently.
async fn three_way(
    client: &ShadowClient,
    targets: &ShadowTargets,
    request: &ShadowRequest,
) -> Outcomes {
    let (primary, (secondary, candidate)) = tokio::join!(
        client.send(&targets.primary, request),
        targets.send_to_mirrors(client, request)
    );
    Outcomes {
        primary,
        secondary,
        candidate,
    }
}
