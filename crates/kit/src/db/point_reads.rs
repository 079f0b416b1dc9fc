//! Point reads by key over the pipelined connections, coalesced: while reads are in
//! flight, the reads queued behind them go out together as one `... = ANY($1)`
//! statement, and each caller gets its own row or `None` ([`super::coalesce`]).
//!
//! A batch of one uses the single-key statement, so at low load a read is exactly the
//! uncoalesced read. With coalescing off (`[database] coalesce = false`) every read is
//! its own statement.
//!
//! Batch slots: two per pipelined connection, so that each connection has one
//! statement executing and one on the wire; the reads arriving meanwhile wait for the
//! next batch. Metric: `db_batch_size{batch="<name>"}`.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use tokio_postgres::Row;
use tokio_postgres::types::{FromSqlOwned, ToSql};
use tracing::Instrument;

use super::coalesce::{BatchLimits, Coalescer};
use super::deadline;
use super::pipelined::{PipelinedReader, ReadError};

/// Batches in flight per pipelined connection.
const BATCHES_PER_CONNECTION: usize = 2;
/// Keys in one `= ANY($1)` statement.
const MAX_KEYS: usize = 256;

/// A read of one row by key, as two prepared statements of the reader.
pub struct PointQuery<K, V> {
    /// Names the batch in the metric.
    pub name: &'static str,
    /// Index of `... WHERE key = $1`.
    pub one: usize,
    /// Index of `... WHERE key = ANY($1)`.
    pub many: usize,
    /// The key of a row of `many`.
    pub key: fn(&Row) -> Result<K, tokio_postgres::Error>,
    pub decode: fn(&Row) -> Result<V, tokio_postgres::Error>,
}

impl<K, V> Clone for PointQuery<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for PointQuery<K, V> {}

type Answer<V> = Result<Option<V>, ReadError>;

/// Reads of one [`PointQuery`], coalesced or not.
pub struct PointReads<K, V> {
    reader: Arc<PipelinedReader>,
    query: PointQuery<K, V>,
    coalescer: Option<Coalescer<K, Answer<V>>>,
}

impl<K, V> PointReads<K, V>
where
    K: ToSql + FromSqlOwned + Eq + Hash + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    /// With `coalesce`, starts the batch dispatcher on the current runtime.
    pub fn new(
        reader: Arc<PipelinedReader>,
        query: PointQuery<K, V>,
        coalesce: bool,
        queue_depth: usize,
    ) -> Self {
        let coalescer = coalesce.then(|| {
            let limits = BatchLimits {
                in_flight: BATCHES_PER_CONNECTION * reader.connections(),
                max_batch: MAX_KEYS,
                queue_depth,
            };
            let reader = reader.clone();
            Coalescer::start(query.name, limits, move |keys| {
                let reader = reader.clone();
                async move { read_batch(&reader, query, keys).await }
            })
        });
        PointReads {
            reader,
            query,
            coalescer,
        }
    }

    /// The row with `key`, if any, within the query deadline. Its span is the single-key
    /// statement's, in the caller's trace, also when the read went out in a batch.
    pub async fn get(&self, key: K) -> Answer<V> {
        let span = self.reader.statement_span(self.query.one);
        let read = async {
            match &self.coalescer {
                Some(coalescer) => {
                    deadline::within(self.reader.query_deadline(), async {
                        coalescer.call(key).await?
                    })
                    .await
                }
                None => read_one(&self.reader, self.query, &key).await,
            }
        };
        read.instrument(span).await
    }
}

async fn read_one<K: ToSql + Sync, V>(
    reader: &PipelinedReader,
    query: PointQuery<K, V>,
    key: &K,
) -> Answer<V> {
    let row = reader.query_opt(query.one, &[key]).await?;
    row.map(|row| (query.decode)(&row))
        .transpose()
        .map_err(ReadError::Query)
}

/// One statement for every key of the batch; one answer per key, in order.
async fn read_batch<K, V>(
    reader: &PipelinedReader,
    query: PointQuery<K, V>,
    keys: Vec<K>,
) -> Vec<Answer<V>>
where
    K: ToSql + FromSqlOwned + Eq + Hash + Sync,
    V: Clone,
{
    if let [key] = keys.as_slice() {
        return vec![read_one(reader, query, key).await];
    }
    let found = async {
        let rows = reader.query(query.many, &[&keys]).await?;
        rows.iter()
            .map(|row| Ok(((query.key)(row)?, (query.decode)(row)?)))
            .collect::<Result<HashMap<K, V>, tokio_postgres::Error>>()
            .map_err(ReadError::Query)
    };
    match found.await {
        Ok(found) => keys.iter().map(|key| Ok(found.get(key).cloned())).collect(),
        Err(error) => {
            let shared = Arc::new(error);
            keys.iter()
                .map(|_| Err(ReadError::BatchFailed(shared.clone())))
                .collect()
        }
    }
}
