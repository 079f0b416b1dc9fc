//! A worker: one OS thread with its own single-threaded event loop and its share of the
//! connections, as in the fastest generators (wrk's threads, rewrk's per-core runtimes).
//! Nothing on the request path is shared between workers but the stop flag.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender as BatchSender;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::mpsc;
use tokio::task::LocalSet;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;

use super::connection::{Connection, Response};
use super::flow::iteration::run_iteration;
use super::flow::{Flow, FlowTally};
use super::histogram::{Answer, Slot, WindowBatch, WindowedRecorder};
use super::outcome::TransportError;
use super::request::{RequestPicker, RequestPlan, ValueOrder};
use super::schedule::RateSchedule;
use super::settings::HttpVersion;
use super::share::Share;
use super::timer::{Deadlines, PreciseTimer};
use super::tls::TlsClient;

/// How often a worker hands its completed windows to the collector.
const BATCH_INTERVAL: Duration = Duration::from_millis(200);

/// What every worker of a run shares.
pub struct RunShared {
    pub plan: Arc<RequestPlan>,
    /// When the run (warm-up included) began.
    pub start: Instant,
    /// When the measured part began.
    pub measure_start: Instant,
    /// No request starts at or after this instant.
    pub deadline: Option<Instant>,
    pub timeout: Duration,
    pub http: HttpVersion,
    pub streams_per_connection: usize,
    pub value_order: ValueOrder,
    pub seed: u64,
    pub workers: usize,
    /// The part of the load this run sends: with the worker index, it picks this worker's
    /// ticks and values from the whole load's.
    pub share: Share,
    /// Set to end the run early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    pub pace: Pace,
    /// Set for an `https://` run: the TLS configuration every connection shares.
    pub tls: Option<Arc<TlsClient>>,
    /// Set for a flow: each tick is an iteration of its steps (the plan's targets).
    pub flow: Option<Arc<Flow>>,
}

/// How requests are started.
pub enum Pace {
    /// Closed model: `budget` counts measured requests taken so far against `limit`.
    Closed {
        limit: Option<u64>,
        budget: AtomicU64,
    },
    /// Open model.
    Open {
        schedule: RateSchedule,
        /// Requests the warm-up holds, at the schedule's initial rate.
        warmup_ticks: u64,
        warmup: Duration,
        /// Sends that may wait for a connection, per worker.
        backlog_limit: usize,
    },
}

impl Pace {
    /// Offset from the run start at which global tick `tick` is meant to start.
    fn tick_offset(&self, tick: u64) -> Option<f64> {
        let Pace::Open {
            schedule,
            warmup_ticks,
            warmup,
            ..
        } = self
        else {
            return None;
        };
        if tick < *warmup_ticks {
            return Some(tick as f64 / schedule.initial_rate());
        }
        schedule
            .intended_offset(tick - warmup_ticks)
            .map(|offset| warmup.as_secs_f64() + offset)
    }
}

/// Runs worker `index` on the current thread until its share of the run is over.
/// `connections` is the number of connections this worker owns.
pub fn run_worker(
    shared: Arc<RunShared>,
    index: usize,
    connections: usize,
    batches: BatchSender<WindowBatch>,
) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a worker's event loop")?;
    let local = LocalSet::new();
    local.block_on(&runtime, async move {
        let recorder = Rc::new(RefCell::new(WindowedRecorder::new(
            index,
            shared.measure_start,
        )));
        let batcher = tokio::task::spawn_local(send_batches(recorder.clone(), batches.clone()));
        let connections: Vec<Connection> = (0..connections)
            .map(|_| Connection::new(shared.plan.address, shared.http, shared.tls.clone()))
            .collect();
        // Every stream of every connection is a sending slot.
        let slots: Vec<Connection> = connections
            .iter()
            .flat_map(|connection| {
                std::iter::repeat_n(connection.clone(), shared.streams_per_connection.max(1))
            })
            .collect();
        // One timeout entry per slot, and one sweep for all of them.
        let deadlines = Rc::new(Deadlines::new(slots.len(), shared.timeout));
        let sweeper = tokio::task::spawn_local({
            let deadlines = deadlines.clone();
            async move { deadlines.run_sweeps().await }
        });
        let (lane, lanes) = shared.share.lane(index, shared.workers);
        let picker = Rc::new(RefCell::new(RequestPicker::new(
            shared.plan.clone(),
            shared.value_order,
            shared.seed,
            lane as usize,
            lanes as usize,
        )));
        let flow = shared
            .flow
            .as_ref()
            .map(|flow| Rc::new(RefCell::new(FlowTally::new(flow.steps.len()))));
        let result = match &shared.pace {
            Pace::Closed { .. } => {
                run_closed(&shared, slots, &picker, &recorder, &deadlines, &flow).await
            }
            Pace::Open { .. } => {
                run_open(&shared, index, slots, &picker, &recorder, &deadlines, &flow).await
            }
        };
        sweeper.abort();
        for connection in &connections {
            connection.close();
        }
        batcher.abort();
        let mut last = recorder.borrow_mut().take_complete(Instant::now(), true);
        last.flow = flow.map(|tally| tally.borrow().clone());
        // The collector outlives the workers; a closed channel means it gave up, and then
        // nobody is left to tell.
        let _ = batches.send(last);
        result
    })
}

async fn send_batches(recorder: Rc<RefCell<WindowedRecorder>>, batches: BatchSender<WindowBatch>) {
    let mut interval = tokio::time::interval(BATCH_INTERVAL);
    loop {
        interval.tick().await;
        let batch = recorder.borrow_mut().take_complete(Instant::now(), false);
        if batches.send(batch).is_err() {
            return;
        }
    }
}

/// What a sending slot works with.
pub(super) struct SlotContext {
    pub shared: Arc<RunShared>,
    pub connection: Connection,
    pub picker: Rc<RefCell<RequestPicker>>,
    pub recorder: Rc<RefCell<WindowedRecorder>>,
    pub deadlines: Rc<Deadlines>,
    /// This slot's entry in `deadlines`.
    pub index: usize,
    /// This worker's count of a flow's iterations; `None` for a run of requests.
    pub flow: Option<Rc<RefCell<FlowTally>>>,
}

/// Sends one request on the slot's connection and records it against `slot`.
async fn send_one(context: &SlotContext, slot: Slot, intended: Instant) {
    let request = context.picker.borrow_mut().next_request();
    match request {
        Ok((target, request)) => {
            exchange(context, slot, intended, target, request, false).await;
        }
        Err(_) => context
            .recorder
            .borrow_mut()
            .record_error(slot, TransportError::Other),
    }
}

/// What [`exchange`] saw: the response, if one came, and when it ended.
pub(super) struct Exchanged {
    pub response: Option<Response>,
    /// The response's status counts as an error for its target.
    pub error: bool,
    pub sent: Instant,
    pub finished: Instant,
}

/// Sends `request` (of target `target`) on the slot's connection and records it against
/// `slot`, its latency counted from `intended`.
pub(super) async fn exchange(
    context: &SlotContext,
    slot: Slot,
    intended: Instant,
    target: usize,
    request: Request<Full<Bytes>>,
    keep_body: bool,
) -> Exchanged {
    let SlotContext {
        shared,
        connection,
        picker,
        recorder,
        deadlines,
        index,
        ..
    } = context;
    let sent = Instant::now();
    let outcome = deadlines
        .within(
            *index,
            sent + shared.timeout,
            connection.send(request, keep_body),
        )
        .await;
    let finished = Instant::now();
    let mut recorder = recorder.borrow_mut();
    let setup = connection.take_setup();
    if !setup.is_empty() {
        recorder.record_setup(slot, &setup);
    }
    let mut exchanged = Exchanged {
        response: None,
        error: true,
        sent,
        finished,
    };
    match outcome {
        Some(Ok(response)) => {
            exchanged.error = picker.borrow().plan().is_error(target, response.status);
            recorder.record_response(
                slot,
                intended,
                sent,
                finished,
                Answer {
                    status: response.status,
                    body_bytes: response.body_bytes,
                    error: exchanged.error,
                },
            );
            exchanged.response = Some(response);
        }
        Some(Err(error)) => recorder.record_error(slot, error),
        None => {
            // An HTTP/1.1 connection with a response still owed can carry nothing else.
            if shared.http == HttpVersion::Http1 {
                connection.close();
            }
            recorder.record_error(slot, TransportError::Timeout);
        }
    }
    exchanged
}

/// Starts what the run sends for one tick: a request, or a flow's iteration.
async fn send_tick(context: &SlotContext, slot: Slot, intended: Instant) {
    match (&context.shared.flow, &context.flow) {
        (Some(flow), Some(tally)) => run_iteration(context, flow, tally, slot, intended).await,
        _ => send_one(context, slot, intended).await,
    }
}

/// Registers a tick meant to start at `intended`: a request, or a flow's iteration, whose
/// window then stays open until every step is recorded ([`WindowedRecorder::hold`]).
fn begin_tick(shared: &RunShared, recorder: &mut WindowedRecorder, intended: Instant) -> Slot {
    match shared.flow {
        Some(_) => recorder.hold(intended),
        None => recorder.begin(intended),
    }
}

/// Closed model: every slot sends its next request as soon as the last one is done.
async fn run_closed(
    shared: &Arc<RunShared>,
    slots: Vec<Connection>,
    picker: &Rc<RefCell<RequestPicker>>,
    recorder: &Rc<RefCell<WindowedRecorder>>,
    deadlines: &Rc<Deadlines>,
    flow: &Option<Rc<RefCell<FlowTally>>>,
) -> Result<()> {
    let Pace::Closed { limit, .. } = &shared.pace else {
        unreachable!("run_closed is only called for the closed model");
    };
    let tasks: Vec<_> = slots
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            let context = SlotContext {
                shared: shared.clone(),
                connection,
                picker: picker.clone(),
                recorder: recorder.clone(),
                deadlines: deadlines.clone(),
                index,
                flow: flow.clone(),
            };
            let limit = *limit;
            tokio::task::spawn_local(async move {
                let shared = &context.shared;
                let recorder = &context.recorder;
                let Pace::Closed { budget, .. } = &shared.pace else {
                    return;
                };
                loop {
                    let now = Instant::now();
                    if shared.deadline.is_some_and(|deadline| now >= deadline)
                        || shared.stop.load(Ordering::Relaxed)
                    {
                        return;
                    }
                    if let Some(limit) = limit
                        && now >= shared.measure_start
                        && budget.fetch_add(1, Ordering::Relaxed) >= limit
                    {
                        return;
                    }
                    let slot = begin_tick(shared, &mut recorder.borrow_mut(), now);
                    send_tick(&context, slot, now).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.context("a sending task panicked")?;
    }
    Ok(())
}

/// A send the schedule asked for.
struct Job {
    intended: Instant,
    slot: Slot,
}

/// Open model: a scheduler starts requests at their intended times on idle slots; when none is
/// idle the send waits in a bounded backlog (late), and past the bound it is dropped.
async fn run_open(
    shared: &Arc<RunShared>,
    index: usize,
    slots: Vec<Connection>,
    picker: &Rc<RefCell<RequestPicker>>,
    recorder: &Rc<RefCell<WindowedRecorder>>,
    deadlines: &Rc<Deadlines>,
    flow: &Option<Rc<RefCell<FlowTally>>>,
) -> Result<()> {
    let Pace::Open { backlog_limit, .. } = &shared.pace else {
        unreachable!("run_open is only called for the open model");
    };
    let (idle_tx, mut idle_rx) = mpsc::unbounded_channel::<usize>();
    let mut job_senders = Vec::with_capacity(slots.len());
    let mut tasks = Vec::with_capacity(slots.len());
    for (slot_index, connection) in slots.into_iter().enumerate() {
        let (job_tx, mut job_rx) = mpsc::channel::<Job>(1);
        job_senders.push(job_tx);
        let context = SlotContext {
            shared: shared.clone(),
            connection,
            picker: picker.clone(),
            recorder: recorder.clone(),
            deadlines: deadlines.clone(),
            index: slot_index,
            flow: flow.clone(),
        };
        let idle_tx = idle_tx.clone();
        tasks.push(tokio::task::spawn_local(async move {
            while let Some(job) = job_rx.recv().await {
                send_tick(&context, job.slot, job.intended).await;
                if idle_tx.send(slot_index).is_err() {
                    return;
                }
            }
        }));
    }
    drop(idle_tx);
    let mut idle: Vec<usize> = (0..job_senders.len()).rev().collect();
    let mut backlog: VecDeque<Job> = VecDeque::new();
    let dispatch = |slot_index: usize, job: Job| {
        // The slot is idle, so its one-place queue is empty and try_send cannot be full; it
        // cannot be closed either, since slots only stop when their sender is dropped.
        job_senders[slot_index]
            .try_send(job)
            .expect("an idle slot's one-place job queue is empty and open");
    };

    let timer = PreciseTimer::new().context("creating the scheduler's timer")?;
    // This worker's lane of the whole load's ticks (see `Share::lane`).
    let (mut tick, lanes) = shared.share.lane(index, shared.workers);
    let mut next = next_intended(shared, tick);
    while let Some(intended) = next {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        tokio::select! {
            biased;
            Some(slot_index) = idle_rx.recv() => {
                match backlog.pop_front() {
                    Some(job) => dispatch(slot_index, job),
                    None => idle.push(slot_index),
                }
            }
            woke = timer.sleep_until(intended) => {
                woke.context("waiting on the scheduler's timer")?;
                // Start every tick that is due: at high rates one wake-up covers several ticks,
                // and each send's latency counts from its own intended time regardless.
                let now = Instant::now();
                while let Some(intended) = next.filter(|intended| *intended <= now) {
                    let slot = begin_tick(shared, &mut recorder.borrow_mut(), intended);
                    let job = Job { intended, slot };
                    if let Some(slot_index) = idle.pop() {
                        dispatch(slot_index, job);
                    } else if backlog.len() < *backlog_limit {
                        recorder.borrow_mut().record_late(slot);
                        backlog.push_back(job);
                    } else {
                        recorder.borrow_mut().record_dropped(slot);
                    }
                    tick += lanes;
                    next = next_intended(shared, tick);
                }
            }
        }
    }

    // The schedule is over; sends still waiting go out as connections free up, until they
    // would have timed out anyway.
    let drain_until = Instant::now() + shared.timeout;
    while !backlog.is_empty() && !shared.stop.load(Ordering::Relaxed) {
        tokio::select! {
            Some(slot_index) = idle_rx.recv() => {
                if let Some(job) = backlog.pop_front() {
                    dispatch(slot_index, job);
                }
            }
            _ = tokio::time::sleep_until(drain_until.into()) => break,
        }
    }
    for job in backlog.drain(..) {
        recorder.borrow_mut().record_dropped(job.slot);
    }
    drop(job_senders);
    for task in tasks {
        task.await.context("a sending task panicked")?;
    }
    Ok(())
}

/// The intended start of global tick `tick`, if it falls before the deadline.
fn next_intended(shared: &RunShared, tick: u64) -> Option<Instant> {
    let offset = shared.pace.tick_offset(tick)?;
    let intended = shared.start + Duration::from_secs_f64(offset);
    match shared.deadline {
        Some(deadline) if intended >= deadline => None,
        _ => Some(intended),
    }
}
