//! Pipelined point reads: a few long-lived tokio-postgres connections, statements
//! prepared once on each, many requests' queries in flight on each at a time.
//!
//! Why: a pool runs one query per connection at a time and pays a checkout per request;
//! measured on this project's machine (the README, `labs/read-path.toml`) the textbook SQLx pool handler serves
//! about a quarter of what one pipelined connection serves. tokio-postgres pipelines by
//! itself when several tasks query one `Client` concurrently. SQLx keeps migrations,
//! writes and transactions.
//!
//! Settings (`[database]`): `read_connections` (how many pipelined connections; the
//! read load is spread round-robin), `read_url` (a replica; else `url`),
//! `read_queue_depth` (queries in flight per connection) and `query_timeout_ms`.
//!
//! Bounded: each connection takes at most `read_queue_depth` queries at a time; when
//! every connection is full a read fails at once with [`ReadError::QueueFull`] (a 503),
//! so a stalled server cannot collect an unbounded queue of waiting requests. Each read
//! has the client-side deadline `query_timeout_ms` ([`super::deadline`]), and the
//! connection's `TCP_USER_TIMEOUT` is the same, so a blackholed connection is closed
//! by the kernel and replaced rather than waited on for many minutes.
//!
//! Self-healing: each connection has a supervisor task that connects, prepares, publishes
//! the client, and when the connection ends (server restart, network, a killed backend)
//! withdraws it and reconnects with a capped backoff. While no connection is up a read
//! fails at once with [`ReadError::NotConnected`] (a fast 503), never a hang.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use super::coalesce::Rejected;
use super::deadline::{self, DeadlineExceeded};
use super::unavailable::Unavailability;
use crate::config::DatabaseSettings;

/// Why a pipelined read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No connection is up: the client may retry.
    #[error("no database connection for reads")]
    NotConnected,
    /// Every connection has its `read_queue_depth` queries in flight.
    #[error("every read connection has {0} queries in flight")]
    QueueFull(usize),
    #[error(transparent)]
    Deadline(#[from] DeadlineExceeded),
    /// The connection broke mid-query, or the server cannot answer now (the
    /// [`super::unavailable`] classes).
    #[error("database unavailable for reads: {0}")]
    Unavailable(#[source] tokio_postgres::Error),
    /// The server answered with an error: a bug in the query or the data.
    #[error(transparent)]
    Query(tokio_postgres::Error),
    #[error("invalid database URL for pipelined reads: {0}")]
    Url(tokio_postgres::Error),
    /// Coalesced reads ([`super::point_reads`]): the batch queue is full, or the batch
    /// ended without an answer.
    #[error(transparent)]
    NotBatched(#[from] Rejected),
    /// The statement of the batch this read was in failed (one error, shared by every
    /// read in the batch).
    #[error("the batched read failed: {0}")]
    BatchFailed(Arc<ReadError>),
}

impl Unavailability for ReadError {
    fn is_unavailable(&self) -> bool {
        match self {
            ReadError::Query(_) | ReadError::Url(_) => false,
            ReadError::BatchFailed(shared) => shared.is_unavailable(),
            _ => true,
        }
    }
}

/// A connected, prepared client.
struct Prepared {
    client: Client,
    statements: Vec<Statement>,
    /// `read_queue_depth` permits: one per query in flight on this connection.
    in_flight: Semaphore,
}

/// The pipelined connections for a fixed list of statements.
pub struct PipelinedReader {
    slots: Arc<[ArcSwapOption<Prepared>]>,
    next: AtomicUsize,
    queue_depth: usize,
    query_deadline: Duration,
    /// The statements' texts and the database's name, for their spans.
    statements: &'static [&'static str],
    namespace: Box<str>,
}

const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl PipelinedReader {
    /// Starts `settings.read_connections` supervisors on the current runtime; they keep
    /// connecting to `url` in the background. The settings' `statement_timeout_ms` is
    /// set on each connection.
    pub fn start(
        url: &str,
        statements: &'static [&'static str],
        settings: &DatabaseSettings,
    ) -> Result<Self, ReadError> {
        let query_deadline = Duration::from_millis(settings.query_timeout_ms);
        let mut config = tokio_postgres::Config::from_str(url).map_err(ReadError::Url)?;
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_user_timeout(query_deadline)
            .options(format!(
                "-c statement_timeout={}",
                settings.statement_timeout_ms
            ))
            .application_name("pipelined-reads");
        let slots: Arc<[ArcSwapOption<Prepared>]> = (0..settings.read_connections.max(1))
            .map(|_| ArcSwapOption::empty())
            .collect();
        let queue_depth = settings.read_queue_depth.max(1);
        for index in 0..slots.len() {
            tokio::spawn(supervise(
                Slot {
                    index,
                    queue_depth,
                    slots: Arc::downgrade(&slots),
                },
                config.clone(),
                statements,
            ));
        }
        Ok(PipelinedReader {
            slots,
            next: AtomicUsize::new(0),
            queue_depth,
            query_deadline,
            statements,
            namespace: config.get_dbname().unwrap_or("postgres").into(),
        })
    }

    /// How many connections are up now.
    pub fn connected(&self) -> usize {
        self.slots
            .iter()
            .filter(|slot| slot.load().is_some())
            .count()
    }

    /// Waits until at least one connection is up, or `within` passes.
    pub async fn wait_connected(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.connected() == 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Runs statement number `statement` (its index in the list given to `start`) and
    /// returns at most one row (the first), within the query deadline.
    pub async fn query_opt(
        &self,
        statement: usize,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, ReadError> {
        Ok(self.query(statement, params).await?.into_iter().next())
    }

    /// Runs statement number `statement` and returns its rows, within the query deadline.
    pub async fn query(
        &self,
        statement: usize,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, ReadError> {
        let prepared = self.pick()?;
        let _in_flight = prepared
            .admit()
            .ok_or(ReadError::QueueFull(self.queue_depth))?;
        let statement = &prepared.statements[statement];
        deadline::within(self.query_deadline, async {
            prepared
                .client
                .query(statement, params)
                .await
                .map_err(classify)
        })
        .await
    }

    /// The span of statement number `statement` ([`super::client_span`]).
    pub fn statement_span(&self, statement: usize) -> tracing::Span {
        super::client_span(self.statements[statement], &self.namespace)
    }

    /// The client-side deadline of every read.
    pub fn query_deadline(&self) -> Duration {
        self.query_deadline
    }

    /// Pipelined connections configured (up or not).
    pub fn connections(&self) -> usize {
        self.slots.len()
    }

    /// The next connected client with room in its queue, round-robin.
    fn pick(&self) -> Result<Arc<Prepared>, ReadError> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut any_connected = false;
        for offset in 0..self.slots.len() {
            if let Some(prepared) = self.slots[(start + offset) % self.slots.len()].load_full() {
                if prepared.in_flight.available_permits() > 0 {
                    return Ok(prepared);
                }
                any_connected = true;
            }
        }
        Err(if any_connected {
            ReadError::QueueFull(self.queue_depth)
        } else {
            ReadError::NotConnected
        })
    }
}

impl Prepared {
    /// A place in this connection's queue, if it has one free.
    fn admit(&self) -> Option<SemaphorePermit<'_>> {
        self.in_flight.try_acquire().ok()
    }
}

/// Unavailability ([`super::unavailable`]) rather than a bug.
fn classify(error: tokio_postgres::Error) -> ReadError {
    if error.is_unavailable() {
        ReadError::Unavailable(error)
    } else {
        ReadError::Query(error)
    }
}

/// The slot a supervisor keeps filled.
struct Slot {
    index: usize,
    queue_depth: usize,
    /// Weak: the reader owns the slots; when it is dropped the supervisor stops.
    slots: Weak<[ArcSwapOption<Prepared>]>,
}

/// Keeps `slot` connected until the reader is dropped (then the slots are gone, the
/// client with them, its connection ends, and the loop finds nothing to fill).
async fn supervise(
    slot: Slot,
    config: tokio_postgres::Config,
    statements: &'static [&'static str],
) {
    let Slot {
        index,
        queue_depth,
        slots,
    } = slot;
    let mut backoff = BACKOFF_FIRST;
    while slots.strong_count() > 0 {
        match config.connect(NoTls).await {
            Ok((client, connection)) => {
                let connection = tokio::spawn(connection);
                let mut prepared = Vec::with_capacity(statements.len());
                let mut failure = None;
                for text in statements {
                    match client.prepare(text).await {
                        Ok(statement) => prepared.push(statement),
                        Err(error) => {
                            failure = Some(error);
                            break;
                        }
                    }
                }
                match failure {
                    None => {
                        let Some(live) = slots.upgrade() else {
                            return;
                        };
                        live[index].store(Some(Arc::new(Prepared {
                            client,
                            statements: prepared,
                            in_flight: Semaphore::new(queue_depth),
                        })));
                        // Hold only the slot's cell while connected, not the reader.
                        drop(live);
                        tracing::debug!(index, "pipelined read connection up");
                        backoff = BACKOFF_FIRST;
                        // Resolves when the connection ends, for whatever reason.
                        let outcome = connection.await;
                        if let Some(live) = slots.upgrade() {
                            live[index].store(None);
                        }
                        tracing::warn!(
                            index,
                            ?outcome,
                            "pipelined read connection lost; reconnecting"
                        );
                    }
                    Some(error) => {
                        tracing::warn!(index, %error, "preparing pipelined statements failed");
                        drop(client);
                        connection.abort();
                    }
                }
            }
            Err(error) => tracing::debug!(index, %error, "pipelined read connection failed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}
