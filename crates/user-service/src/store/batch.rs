//! What every coalesced write batch does with its statement, shared by creates
//! ([`super::creates`]) and by changes ([`super::changes`]).

use std::future::Future;
use std::sync::Arc;

use kit::db::Database;
use kit::db::unavailable::Unavailability;

use super::users::StoreError;

/// One answer per row of a batch, in order.
pub(super) type Answers<T> = Vec<Result<T, StoreError>>;

/// Answers the batch `rows`, within the query deadline: a lone row through `one` (the
/// statement a request makes without coalescing), more through `many` (the batch's
/// shared statement, which must answer every row).
///
/// A row that fails never fails the others: when `many` fails for a reason that is not
/// the database's unavailability (data that breaks the statement, or a unique index that
/// a concurrent writer took first), the rows go one by one through `one`, so only the
/// row at fault fails. When the database is unavailable, every row gets the one shared
/// error (a 503 each).
pub(super) async fn answer_batch<R, T, Fut>(
    database: &Database,
    batch: &'static str,
    rows: &[R],
    many: impl Future<Output = Result<Answers<T>, StoreError>>,
    one: impl Fn(&R) -> Fut,
) -> Answers<T>
where
    Fut: Future<Output = Result<T, StoreError>>,
{
    if let [row] = rows {
        return vec![database.within(one(row)).await];
    }
    match database.within(many).await {
        Ok(answers) => answers,
        Err(StoreError::Database(error)) if !error.is_unavailable() => {
            tracing::warn!(%error, batch, rows = rows.len(), "a batched statement failed; running its rows one by one");
            let mut answers = Vec::with_capacity(rows.len());
            for row in rows {
                answers.push(database.within(one(row)).await);
            }
            answers
        }
        Err(error) => {
            let shared = Arc::new(error);
            rows.iter()
                .map(|_| Err(StoreError::BatchFailed(shared.clone())))
                .collect()
        }
    }
}
