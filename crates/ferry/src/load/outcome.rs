//! What became of each request, and the per-kind tallies kept for every window and run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Why a request produced no usable response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportError {
    /// The TCP connection (or HTTP/2 handshake) could not be established: refused, unreachable.
    Connect,
    /// No complete response within `--timeout` of the send.
    Timeout,
    /// The connection broke mid-request: reset by the peer, closed before the response ended.
    Reset,
    /// Anything else hyper reported: a malformed response, a protocol error.
    Other,
}

/// The tallies a window (one second of one worker) or a whole run keeps.
///
/// `requests` counts every request that was sent, or attempted, whatever became of it;
/// `responses` counts those that came back with a status line. Status classes 4xx and 5xx are
/// counted as errors too, beside the transport errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub requests: u64,
    pub responses: u64,
    pub errors: ErrorTally,
    /// Open model: sends that could not start at their intended time because every connection
    /// was busy, and waited in the backlog. They are still sent and measured from the
    /// intended time.
    pub late: u64,
    /// Open model: sends that were never made — the backlog was full, or the run ended while
    /// they waited. They are not in `requests`.
    pub dropped: u64,
    /// Response body bytes read.
    pub body_bytes: u64,
    /// Responses by status code (JSON writes the codes as object keys: `{"200": 19990}`).
    pub status: BTreeMap<u16, u64>,
    /// The responses among those that counted as errors, by status code.
    #[serde(default)]
    pub error_status: BTreeMap<u16, u64>,
    /// TCP connections opened, and the microseconds they took to open, in all.
    #[serde(default)]
    pub connects: u64,
    #[serde(default)]
    pub connect_time_us: u64,
    /// TLS handshakes completed, and the microseconds they took, in all.
    #[serde(default)]
    pub handshakes: u64,
    #[serde(default)]
    pub handshake_time_us: u64,
}

/// The connections a request had to open before it could be sent (usually none): counted in
/// the window of that request, like everything else about it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionSetup {
    pub connects: u64,
    pub connect_time_us: u64,
    pub handshakes: u64,
    pub handshake_time_us: u64,
}

impl ConnectionSetup {
    pub fn is_empty(&self) -> bool {
        self.connects == 0 && self.handshakes == 0
    }

    /// Adds one TCP connect that took `time`.
    pub fn connected(&mut self, time: std::time::Duration) {
        self.connects += 1;
        self.connect_time_us += time.as_micros() as u64;
    }

    /// Adds one TLS handshake that took `time`.
    pub fn shook_hands(&mut self, time: std::time::Duration) {
        self.handshakes += 1;
        self.handshake_time_us += time.as_micros() as u64;
    }
}

/// Errors by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorTally {
    pub connect: u64,
    pub timeout: u64,
    pub reset: u64,
    pub other: u64,
    /// 4xx and 5xx responses that count as errors (not listed in an `expect`).
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// Responses of any other status that count as errors: outside 2xx and 3xx by default (a
    /// 1xx), or not listed in an `expect` (a 200 where only 404 was expected).
    #[serde(default)]
    pub status_other: u64,
    /// Flow steps whose response gave no value for an `extract` (a missing pointer, a body
    /// that is not JSON, a status outside 2xx); the response is counted too.
    #[serde(default)]
    pub extract: u64,
}

impl ErrorTally {
    pub fn total(&self) -> u64 {
        self.connect
            + self.timeout
            + self.reset
            + self.other
            + self.status_4xx
            + self.status_5xx
            + self.status_other
            + self.extract
    }

    pub fn add(&mut self, other: &ErrorTally) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.reset += other.reset;
        self.other += other.other;
        self.status_4xx += other.status_4xx;
        self.status_5xx += other.status_5xx;
        self.status_other += other.status_other;
        self.extract += other.extract;
    }
}

impl Tally {
    /// Counts a response; `error` says whether its status counts as an error for the request
    /// that got it ([`super::target::is_error`]).
    pub fn record_response(&mut self, status: u16, body_bytes: u64, error: bool) {
        self.requests += 1;
        self.responses += 1;
        self.body_bytes += body_bytes;
        if error {
            match status {
                400..=499 => self.errors.status_4xx += 1,
                500..=599 => self.errors.status_5xx += 1,
                _ => self.errors.status_other += 1,
            }
            *self.error_status.entry(status).or_default() += 1;
        }
        *self.status.entry(status).or_default() += 1;
    }

    pub fn record_transport_error(&mut self, error: TransportError) {
        self.requests += 1;
        match error {
            TransportError::Connect => self.errors.connect += 1,
            TransportError::Timeout => self.errors.timeout += 1,
            TransportError::Reset => self.errors.reset += 1,
            TransportError::Other => self.errors.other += 1,
        }
    }

    pub fn record_setup(&mut self, setup: &ConnectionSetup) {
        self.connects += setup.connects;
        self.connect_time_us += setup.connect_time_us;
        self.handshakes += setup.handshakes;
        self.handshake_time_us += setup.handshake_time_us;
    }

    pub fn add(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.connects += other.connects;
        self.connect_time_us += other.connect_time_us;
        self.handshakes += other.handshakes;
        self.handshake_time_us += other.handshake_time_us;
        self.responses += other.responses;
        self.errors.add(&other.errors);
        self.late += other.late;
        self.dropped += other.dropped;
        self.body_bytes += other.body_bytes;
        for (status, count) in &other.status {
            *self.status.entry(*status).or_default() += count;
        }
        for (status, count) in &other.error_status {
            *self.error_status.entry(*status).or_default() += count;
        }
    }
}
