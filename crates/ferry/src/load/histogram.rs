//! Latency recording in HDR histograms, one pair (intended-time latency and service time) per
//! worker per one-second window.
//!
//! A worker records into the window of the second its request was *meant* to start in, so the
//! time series shows a stall in the second that suffered it rather than when its responses
//! trickled in. A window leaves the worker once its second is over and none of its requests is
//! still in flight; the collector merges it and lets it go, so memory stays flat however long
//! the run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use super::flow::FlowTally;
use super::outcome::{ConnectionSetup, Tally, TransportError};

/// What came back for one request: its status, its body's size, and whether the status
/// counts as an error for that request ([`super::target::is_error`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body_bytes: u64,
    pub error: bool,
}

impl Answer {
    /// A 200 with an empty body, for tests of timing.
    pub const OK: Answer = Answer {
        status: 200,
        body_bytes: 0,
        error: false,
    };
}

/// Latencies are recorded in microseconds.
pub const UNIT: &str = "microseconds";
/// Highest latency a histogram tracks (one hour); longer ones are recorded as one hour.
pub const HIGHEST_MICROS: u64 = 3_600_000_000;
/// Three significant figures: a recorded value is within 0.1% of the true one, and exact
/// below 2,048 µs.
pub const SIGNIFICANT_FIGURES: u8 = 3;

/// A histogram with the bounds every ferry histogram shares, so that any two can be merged.
pub fn new_latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, SIGNIFICANT_FIGURES)
        .expect("constant bounds 1..1h at 3 significant figures are valid for hdrhistogram")
}

/// Converts a duration to whole microseconds, at least 1 (the histogram's lowest value).
pub fn micros(duration: Duration) -> u64 {
    (duration.as_micros() as u64).max(1)
}

/// One second of one worker's measurements.
#[derive(Debug, Clone)]
pub struct Window {
    /// Seconds since the measured part of the run began.
    pub second: u64,
    /// Latency from the intended start time to the end of the response.
    pub corrected: Histogram<u64>,
    /// Latency from the moment the request was actually sent to the end of the response.
    pub service: Histogram<u64>,
    pub tally: Tally,
    /// Requests of this second still in flight or waiting to be sent.
    outstanding: u64,
}

impl Window {
    pub fn new(second: u64) -> Window {
        Window {
            second,
            corrected: new_latency_histogram(),
            service: new_latency_histogram(),
            tally: Tally::default(),
            outstanding: 0,
        }
    }

    /// Adds another window's measurements (of the same second) to this one.
    pub fn merge(&mut self, other: &Window) {
        self.corrected
            .add(&other.corrected)
            .expect("all ferry histograms share bounds, so adding one to another cannot fail");
        self.service
            .add(&other.service)
            .expect("all ferry histograms share bounds, so adding one to another cannot fail");
        self.tally.add(&other.tally);
    }
}

/// Which window a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Meant to start during the warm-up: counted, not measured.
    Warmup,
    /// Meant to start in this second of the measured run.
    Second(u64),
}

/// Completed windows a worker hands to the collector.
#[derive(Debug)]
pub struct WindowBatch {
    pub worker: usize,
    pub windows: Vec<Window>,
    /// Every second before this one is complete for this worker: no window of it will follow.
    pub complete_before: u64,
    /// Requests meant to start during the warm-up since the last batch.
    pub warmup_requests: u64,
    /// Set on the worker's last batch.
    pub finished: bool,
    /// A flow's iterations, in the worker's last batch.
    pub flow: Option<FlowTally>,
}

/// A worker's open windows.
#[derive(Debug)]
pub struct WindowedRecorder {
    worker: usize,
    measure_start: Instant,
    windows: BTreeMap<u64, Window>,
    warmup_requests: u64,
}

impl WindowedRecorder {
    pub fn new(worker: usize, measure_start: Instant) -> Self {
        WindowedRecorder {
            worker,
            measure_start,
            windows: BTreeMap::new(),
            warmup_requests: 0,
        }
    }

    /// Registers a request meant to start at `intended`; its window stays open until the
    /// request is finished, dropped or errored.
    pub fn begin(&mut self, intended: Instant) -> Slot {
        let Some(since_start) = intended.checked_duration_since(self.measure_start) else {
            self.warmup_requests += 1;
            return Slot::Warmup;
        };
        let second = since_start.as_secs();
        self.window(second).outstanding += 1;
        Slot::Second(second)
    }

    /// Registers a flow's iteration meant to start at `intended`: its window stays open until
    /// [`WindowedRecorder::release`], so that each step's request (registered with
    /// [`WindowedRecorder::begin`] at the same `intended`) lands in it. An iteration is not a
    /// request: nothing is counted.
    pub fn hold(&mut self, intended: Instant) -> Slot {
        let Some(since_start) = intended.checked_duration_since(self.measure_start) else {
            return Slot::Warmup;
        };
        let second = since_start.as_secs();
        self.window(second).outstanding += 1;
        Slot::Second(second)
    }

    /// Ends what [`WindowedRecorder::hold`] began.
    pub fn release(&mut self, slot: Slot) {
        if let Slot::Second(second) = slot {
            self.finish(second);
        }
    }

    /// Counts a flow step's response from which a value could not be taken; the response
    /// itself is recorded already, and its window is held by its iteration.
    pub fn record_extraction_error(&mut self, slot: Slot) {
        if let Slot::Second(second) = slot {
            self.window(second).tally.errors.extract += 1;
        }
    }

    /// Records a response: `intended` is when the request was meant to start, `sent` when it
    /// was, and `finished` when the last byte of the response arrived.
    pub fn record_response(
        &mut self,
        slot: Slot,
        intended: Instant,
        sent: Instant,
        finished: Instant,
        answer: Answer,
    ) {
        let Slot::Second(second) = slot else { return };
        let window = self.finish(second);
        window
            .corrected
            .saturating_record(micros(finished.saturating_duration_since(intended)));
        window
            .service
            .saturating_record(micros(finished.saturating_duration_since(sent)));
        window
            .tally
            .record_response(answer.status, answer.body_bytes, answer.error);
    }

    /// Records the connections a request opened; before its response or error is recorded,
    /// while its window is still open.
    pub fn record_setup(&mut self, slot: Slot, setup: &ConnectionSetup) {
        if let Slot::Second(second) = slot {
            self.window(second).tally.record_setup(setup);
        }
    }

    /// Records a request that failed without a response.
    pub fn record_error(&mut self, slot: Slot, error: TransportError) {
        let Slot::Second(second) = slot else { return };
        self.finish(second).tally.record_transport_error(error);
    }

    /// Marks a request as late: it waits for a connection (it will still be recorded).
    pub fn record_late(&mut self, slot: Slot) {
        if let Slot::Second(second) = slot {
            self.window(second).tally.late += 1;
        }
    }

    /// Records a send that will never be made.
    pub fn record_dropped(&mut self, slot: Slot) {
        let Slot::Second(second) = slot else { return };
        self.finish(second).tally.dropped += 1;
    }

    /// Takes the windows that are complete at `now`: their second is over and nothing of
    /// theirs is in flight. Windows leave in order, so a slow request holds back the later
    /// windows too and the collector can rely on `complete_before`.
    pub fn take_complete(&mut self, now: Instant, finished: bool) -> WindowBatch {
        let current_second = now
            .checked_duration_since(self.measure_start)
            .map_or(0, |elapsed| elapsed.as_secs());
        let mut windows = Vec::new();
        while let Some(entry) = self.windows.first_entry() {
            let ready = finished || (*entry.key() < current_second && entry.get().outstanding == 0);
            if !ready {
                break;
            }
            windows.push(entry.remove());
        }
        let complete_before = if finished {
            u64::MAX
        } else {
            self.windows
                .first_key_value()
                .map_or(current_second, |(second, _)| (*second).min(current_second))
        };
        WindowBatch {
            worker: self.worker,
            windows,
            complete_before,
            warmup_requests: std::mem::take(&mut self.warmup_requests),
            finished,
            flow: None,
        }
    }

    fn window(&mut self, second: u64) -> &mut Window {
        self.windows
            .entry(second)
            .or_insert_with(|| Window::new(second))
    }

    fn finish(&mut self, second: u64) -> &mut Window {
        let window = self.window(second);
        window.outstanding = window.outstanding.saturating_sub(1);
        window
    }
}
