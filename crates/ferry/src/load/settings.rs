//! Everything a load run needs to know, as a plain struct so that other commands (compare,
//! shadow, ...) can build runs without going through the command line.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::flow::Flow;
use super::request::ValueOrder;
use super::schedule::RateSchedule;
use super::share::Share;
use super::target::Target;
use super::tls::TlsOptions;

/// How requests are started.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Each connection sends its next request as soon as the previous response is read, as fast
    /// as the server allows. `requests` stops the run after that many requests in total.
    Closed { requests: Option<u64> },
    /// Requests start when the schedule says, whether or not earlier ones have finished.
    /// `max_backlog` bounds the sends waiting for a free connection (per run); past it they are
    /// dropped and counted.
    Open {
        schedule: RateSchedule,
        max_backlog: Option<usize>,
    },
}

/// The HTTP version spoken on every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HttpVersion {
    /// HTTP/1.1 with keep-alive: one request in flight per connection.
    #[default]
    Http1,
    /// HTTP/2: over cleartext (prior knowledge) for `http://`, over TLS (ALPN `h2`, nothing
    /// else offered) for `https://`; `streams_per_connection` requests in flight on each
    /// connection.
    Http2,
}

/// The settings of one load run.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    /// The requests to send; several are picked by weight.
    pub targets: Vec<Target>,
    pub model: Model,
    /// Length of the measured part of the run (after the warm-up). `None` with the closed model
    /// and a request count runs until the count is reached; otherwise the schedule's own length,
    /// or 10 s.
    pub duration: Option<Duration>,
    /// Run this long before measuring; what happens in the warm-up is discarded.
    pub warmup: Duration,
    /// Connections kept open to the server.
    pub connections: usize,
    /// Worker threads, each with its own event loop and share of the connections.
    pub threads: usize,
    /// Give up on a request this long after it was sent.
    pub timeout: Duration,
    pub http: HttpVersion,
    /// HTTP/2 only: concurrent streams on each connection.
    pub streams_per_connection: usize,
    pub value_order: ValueOrder,
    /// Seed for target and value picks, so that runs can be repeated exactly.
    pub seed: u64,
    /// Show the live progress line on the terminal.
    pub progress: bool,
    /// The part of the load this run sends (`--share I/N`); [`Share::WHOLE`] for all of it.
    /// `connections` and a closed-model request count are the whole load's and get divided.
    pub share: Share,
    /// Start the measured window at this wall-clock instant (`--start-at`), so that several
    /// hosts measure the same window; the warm-up runs just before it.
    pub start_at: Option<SystemTime>,
    /// How to speak TLS to an `https://` target (refused with an `http://` one when set).
    pub tls: TlsOptions,
    /// A flow: `targets` are its steps, in order, and each tick of the model (a closed
    /// connection's turn, an open-model start, a `requests` count) is one iteration of them.
    pub flow: Option<Flow>,
}

impl LoadSettings {
    /// Settings for a closed-model run of `url` with wrk's defaults where they are sensible.
    pub fn closed(url: &str, connections: usize, duration: Duration) -> LoadSettings {
        LoadSettings {
            targets: vec![Target::get(url)],
            model: Model::Closed { requests: None },
            duration: Some(duration),
            warmup: Duration::ZERO,
            connections,
            threads: default_threads(),
            timeout: Duration::from_secs(5),
            http: HttpVersion::Http1,
            streams_per_connection: 1,
            value_order: ValueOrder::Random,
            seed: 0x5EED,
            progress: false,
            share: Share::WHOLE,
            start_at: None,
            tls: TlsOptions::default(),
            flow: None,
        }
    }

    /// Settings for an open-model run of `url` following `schedule`.
    pub fn open(url: &str, schedule: RateSchedule, duration: Option<Duration>) -> LoadSettings {
        LoadSettings {
            model: Model::Open {
                schedule,
                max_backlog: None,
            },
            duration,
            connections: 64,
            ..LoadSettings::closed(url, 64, Duration::from_secs(10))
        }
    }

    /// Connections this run opens: its share of `connections`.
    pub fn share_connections(&self) -> usize {
        self.share.portion(self.connections as u64) as usize
    }

    /// The measured length of the run, if it has one.
    pub fn measured_duration(&self) -> Option<Duration> {
        if let Some(duration) = self.duration {
            return Some(duration);
        }
        match &self.model {
            Model::Closed { requests: Some(_) } => None,
            Model::Closed { requests: None } => Some(DEFAULT_DURATION),
            Model::Open { schedule, .. } => {
                Some(schedule.natural_duration().unwrap_or(DEFAULT_DURATION))
            }
        }
    }

    /// The backlog bound in force: the explicit one, or one timeout's worth of sends at the
    /// schedule's peak rate (anything waiting longer would time out anyway), at least 1,000.
    pub fn backlog_limit(&self) -> usize {
        match &self.model {
            Model::Open {
                max_backlog: Some(limit),
                ..
            } => *limit,
            Model::Open { schedule, .. } => {
                ((schedule.peak_rate() * self.timeout.as_secs_f64()).ceil() as usize).max(1_000)
            }
            Model::Closed { .. } => 0,
        }
    }
}

/// The run length when nothing else sets it, as in wrk.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// One worker per core the process may use.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get())
}
