//! Pipelined point reads: a few long-lived tokio-postgres connections, statements
//! prepared once on each, many requests' queries in flight on each at a time.
//!
//! Why: a pool runs one query per connection at a time and pays a checkout per request;
//! measured on this project's machine (the README, `scripts/bench-read-path.sh`) the textbook SQLx pool handler serves
//! about a quarter of what one pipelined connection serves. tokio-postgres pipelines by
//! itself when several tasks query one `Client` concurrently. SQLx keeps migrations,
//! writes and transactions.
//!
//! Settings (`[database]`): `read_connections` (how many pipelined connections; the
//! read load is spread round-robin) and `read_url` (a replica; else `url`).
//!
//! Self-healing: each connection has a supervisor task that connects, prepares, publishes
//! the client, and when the connection ends (server restart, network, a killed backend)
//! withdraws it and reconnects with a capped backoff. While no connection is up a read
//! fails at once with [`ReadError::Unavailable`] (a fast 503), never a hang.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// Why a pipelined read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No connection is up, or it broke mid-query: the client may retry.
    #[error("no database connection for reads")]
    Unavailable,
    /// The server answered with an error.
    #[error(transparent)]
    Query(tokio_postgres::Error),
    #[error("invalid database URL for pipelined reads: {0}")]
    Url(tokio_postgres::Error),
}

/// A connected, prepared client.
struct Prepared {
    client: Client,
    statements: Vec<Statement>,
}

/// The pipelined connections for a fixed list of statements.
pub struct PipelinedReader {
    slots: Arc<[ArcSwapOption<Prepared>]>,
    next: AtomicUsize,
}

const BACKOFF_FIRST: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

impl PipelinedReader {
    /// Starts `connections` supervisors on the current runtime; they keep connecting in
    /// the background. `statement_timeout_ms` is set on each connection.
    pub fn start(
        url: &str,
        connections: usize,
        statements: &'static [&'static str],
        statement_timeout_ms: u64,
    ) -> Result<Self, ReadError> {
        let mut config = tokio_postgres::Config::from_str(url).map_err(ReadError::Url)?;
        config
            .connect_timeout(CONNECT_TIMEOUT)
            .options(format!("-c statement_timeout={statement_timeout_ms}"))
            .application_name("pipelined-reads");
        let slots: Arc<[ArcSwapOption<Prepared>]> = (0..connections.max(1))
            .map(|_| ArcSwapOption::empty())
            .collect();
        for index in 0..slots.len() {
            tokio::spawn(supervise(
                index,
                config.clone(),
                statements,
                Arc::downgrade(&slots),
            ));
        }
        Ok(PipelinedReader {
            slots,
            next: AtomicUsize::new(0),
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
    /// returns at most one row.
    pub async fn query_opt(
        &self,
        statement: usize,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, ReadError> {
        let prepared = self.pick().ok_or(ReadError::Unavailable)?;
        let statement = &prepared.statements[statement];
        prepared
            .client
            .query_opt(statement, params)
            .await
            .map_err(classify)
    }

    /// The next connected client, round-robin.
    fn pick(&self) -> Option<Arc<Prepared>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..self.slots.len())
            .find_map(|offset| self.slots[(start + offset) % self.slots.len()].load_full())
    }
}

/// A closed connection or a server going away is unavailability, not a bug.
fn classify(error: tokio_postgres::Error) -> ReadError {
    let unavailable = error.is_closed()
        || error
            .code()
            .is_some_and(|code| code.code().starts_with("08") || code.code().starts_with("57P"));
    if unavailable {
        ReadError::Unavailable
    } else {
        ReadError::Query(error)
    }
}

/// Keeps slot `index` connected until the reader is dropped (then the slots are gone,
/// the client with them, its connection ends, and the loop finds nothing to fill).
async fn supervise(
    index: usize,
    config: tokio_postgres::Config,
    statements: &'static [&'static str],
    slots: Weak<[ArcSwapOption<Prepared>]>,
) {
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
