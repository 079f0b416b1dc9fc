//! `ferry load`: the load engine, usable as a library.
//!
//! ```no_run
//! use std::time::Duration;
//! use ferry::load::{LoadSettings, RateSchedule, run};
//!
//! let schedule = RateSchedule::parse("100/s:60s,500/s:30s")?;
//! let settings = LoadSettings::open("http://127.0.0.1:8080/users/1", schedule, None);
//! let result = run(&settings)?;
//! println!("p99 {} µs", result.latency.corrected.p99_us);
//! # anyhow::Ok(())
//! ```

mod assemble;
mod collector;
mod connection;
mod encoded;
pub mod flow;
pub mod histogram;
mod http1;
pub mod outcome;
mod progress;
pub mod request;
pub mod result;
pub mod schedule;
pub mod settings;
pub mod share;
pub mod share_spec;
pub mod start;
pub mod target;
pub mod template;
mod timer;
pub mod tls;
mod wire;
mod worker;

pub use assemble::{RunFacts, assemble, latency, totals};
pub use collector::Collector;
pub use flow::Flow;
pub use outcome::{ErrorTally, Tally};
pub use request::ValueOrder;
pub use result::RunResult;
pub use schedule::RateSchedule;
pub use settings::{HttpVersion, LoadSettings, Model};
pub use share::Share;
pub use share_spec::ShareSpec;
pub use target::Target;
pub use tls::TlsOptions;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};

use histogram::WindowBatch;
use progress::ProgressLine;
use request::RequestPlan;
use tls::TlsClient;
use worker::{Pace, RunShared, run_worker};

/// A worker thread: its result is an error when its event loop failed.
type Worker = JoinHandle<Result<()>>;

/// How often the collector wakes to redraw the progress line when no batch arrives.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Runs a load test and returns what it measured. Blocks until the run is over.
pub fn run(settings: &LoadSettings) -> Result<RunResult> {
    run_until_stopped(settings, Arc::new(AtomicBool::new(false)))
}

/// Like [`run`], but ends early (and still reports) once `stop` is set, e.g. from Ctrl-C.
pub fn run_until_stopped(settings: &LoadSettings, stop: Arc<AtomicBool>) -> Result<RunResult> {
    let connections = checked_connections(settings)?;
    let threads = settings.threads.clamp(1, connections);
    let extracted = settings.flow.as_ref().map(Flow::names).unwrap_or_default();
    let plan = Arc::new(RequestPlan::with_extracted(
        &settings.targets,
        settings.http == HttpVersion::Http2,
        &extracted,
    )?);
    let (tls, agreed) = first_handshake(settings, &plan)?;
    let duration = settings.measured_duration();
    let pace = pace_of(settings, threads)?;
    if let Some(start_at) = settings.start_at {
        start::wait_for_start(start_at, settings.warmup, &stop, settings.progress)?;
    }
    let start = Instant::now();
    let started_at_unix_ms = start::unix_ms(SystemTime::now() + settings.warmup);
    let shared = Arc::new(shared_state(
        settings, plan, start, threads, pace, &stop, &tls,
    ));
    let measure_start = shared.measure_start;

    let (batch_rx, handles) = spawn_workers(&shared, threads, connections)?;
    let progress = ProgressLine::new(
        settings.progress,
        duration.map(|duration| duration + settings.warmup),
    );
    let mut collector = Collector::new(threads);
    let stopped_at = collect_batches(&batch_rx, &mut collector, &progress, &shared)?;
    progress.finish();
    let ended = Instant::now();
    join_workers(handles)?;

    let measured = measured_time(duration, stopped_at, ended, measure_start);
    collector.finalise_all(measured.as_secs_f64().ceil() as u64)?;
    let facts = RunFacts {
        threads,
        started_at_unix_ms,
        measured,
        interrupted: stopped_at.is_some(),
    };
    let mut result = assemble(settings, &facts, &collector)?;
    result.settings.tls = tls
        .zip(agreed)
        .map(|(client, agreed)| client.record(&agreed));
    Ok(result)
}

/// This run's share of the connections, after refusing settings no run can have: a share
/// left with no connection, a zero timeout.
fn checked_connections(settings: &LoadSettings) -> Result<usize> {
    let connections = settings.share_connections();
    if connections == 0 {
        bail!(
            "share {} of {} connections leaves this part none: -c must be at least {}",
            settings.share,
            settings.connections,
            settings.share.count
        );
    }
    if settings.timeout.is_zero() {
        bail!("the timeout must be longer than zero");
    }
    Ok(connections)
}

/// The TLS client of an `https://` run and what the run's first handshake agreed. That
/// handshake comes before any load: a certificate error stops the run here. Warns (with the
/// progress line on) when the server asked for a client certificate ferry does not have.
fn first_handshake(
    settings: &LoadSettings,
    plan: &RequestPlan,
) -> Result<(Option<Arc<TlsClient>>, Option<tls::Agreed>)> {
    let tls = tls_client(settings, plan)?;
    let agreed = tls
        .as_ref()
        .map(|client| {
            client.probe_run(
                plan.address,
                settings.timeout,
                settings.http == HttpVersion::Http2,
            )
        })
        .transpose()?;
    if let Some(client) = &tls
        && client.certificate_asked()
        && settings.progress
    {
        eprintln!(
            "ferry: {} asked for a client certificate and ferry has none (--cert FILE --key \
             FILE); if it requires one, its responses will say so",
            client.host
        );
    }
    Ok((tls, agreed))
}

/// What every worker shares, for a run that began at `start` (its warm-up included).
fn shared_state(
    settings: &LoadSettings,
    plan: Arc<RequestPlan>,
    start: Instant,
    threads: usize,
    pace: Pace,
    stop: &Arc<AtomicBool>,
    tls: &Option<Arc<TlsClient>>,
) -> RunShared {
    let measure_start = start + settings.warmup;
    RunShared {
        plan,
        start,
        measure_start,
        deadline: settings
            .measured_duration()
            .map(|duration| measure_start + duration),
        timeout: settings.timeout,
        http: settings.http,
        streams_per_connection: match settings.http {
            HttpVersion::Http1 => 1,
            HttpVersion::Http2 => settings.streams_per_connection.max(1),
        },
        value_order: settings.value_order,
        seed: settings.seed,
        workers: threads,
        share: settings.share,
        stop: stop.clone(),
        pace,
        tls: tls.clone(),
        flow: settings.flow.clone().map(Arc::new),
    }
}

/// The worker threads, the connections dealt out among them as evenly as they go, and the
/// channel their batches arrive on.
fn spawn_workers(
    shared: &Arc<RunShared>,
    threads: usize,
    connections: usize,
) -> Result<(Receiver<WindowBatch>, Vec<Worker>)> {
    let (batch_tx, batch_rx) = std::sync::mpsc::channel();
    let mut handles = Vec::with_capacity(threads);
    for index in 0..threads {
        let connections = connections / threads + usize::from(index < connections % threads);
        let shared = shared.clone();
        let batch_tx = batch_tx.clone();
        let handle = std::thread::Builder::new()
            .name(format!("ferry-worker-{index}"))
            .spawn(move || run_worker(shared, index, connections, batch_tx))
            .context("starting a worker thread")?;
        handles.push(handle);
    }
    drop(batch_tx);
    Ok((batch_rx, handles))
}

/// Takes the workers' batches until every worker has finished (or gone), redrawing the
/// progress line; returns when `stop` was first seen set, if it was.
fn collect_batches(
    batches: &Receiver<WindowBatch>,
    collector: &mut Collector,
    progress: &ProgressLine,
    shared: &RunShared,
) -> Result<Option<Instant>> {
    let mut stopped_at: Option<Instant> = None;
    while !collector.all_finished() {
        match batches.recv_timeout(PROGRESS_INTERVAL) {
            Ok(batch) => collector.accept(batch)?,
            Err(RecvTimeoutError::Timeout) => {}
            // Every worker has gone, some without a last batch: it failed, and says so below.
            Err(RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        if stopped_at.is_none() && shared.stop.load(std::sync::atomic::Ordering::Relaxed) {
            stopped_at = Some(now);
        }
        progress.update(now - shared.start, now < shared.measure_start, collector);
    }
    Ok(stopped_at)
}

/// Waits for every worker, passing on the first one's error or panic.
fn join_workers(handles: Vec<Worker>) -> Result<()> {
    for handle in handles {
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("a worker thread panicked"))??;
    }
    Ok(())
}

/// The time measured: the whole duration, or up to a stop within it; for a run of `-n`
/// requests, up to when it `ended`.
fn measured_time(
    duration: Option<Duration>,
    stopped_at: Option<Instant>,
    ended: Instant,
    measure_start: Instant,
) -> Duration {
    match (duration, stopped_at) {
        (Some(duration), Some(stopped)) => {
            duration.min(stopped.saturating_duration_since(measure_start))
        }
        (Some(duration), None) => duration,
        (None, _) => ended.saturating_duration_since(measure_start),
    }
}

/// The TLS client of an `https://` run; `None` for `http://`, which refuses TLS options.
fn tls_client(settings: &LoadSettings, plan: &RequestPlan) -> Result<Option<Arc<TlsClient>>> {
    if !plan.tls {
        if settings.tls.is_set() {
            bail!(
                "--cacert, --insecure, --cert, --key and --tls-handshake-per-request are for \
                 https:// targets; `{}` is plaintext",
                plan.authority
            );
        }
        return Ok(None);
    }
    if settings.tls.handshake_per_request && settings.streams_per_connection > 1 {
        bail!(
            "--tls-handshake-per-request opens a connection per request, which leaves no \
             room for --streams {}",
            settings.streams_per_connection
        );
    }
    let client = TlsClient::new(&settings.tls, &plan.authority, settings.http)?;
    Ok(Some(Arc::new(client)))
}

/// How this run's requests are started: its share of the model's pace.
fn pace_of(settings: &LoadSettings, threads: usize) -> Result<Pace> {
    Ok(match &settings.model {
        Model::Closed { requests } => Pace::Closed {
            limit: requests.map(|requests| settings.share.portion(requests)),
            budget: AtomicU64::new(0),
        },
        Model::Open { schedule, .. } => {
            if schedule.peak_rate() <= 0.0 {
                bail!("the rate schedule `{schedule}` never sends anything");
            }
            Pace::Open {
                schedule: schedule.clone(),
                warmup_ticks: (settings.warmup.as_secs_f64() * schedule.initial_rate()).ceil()
                    as u64,
                warmup: settings.warmup,
                backlog_limit: settings
                    .backlog_limit()
                    .div_ceil(threads * settings.share.count as usize),
            }
        }
    })
}
