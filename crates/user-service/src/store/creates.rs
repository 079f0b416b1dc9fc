//! Creating users, coalesced: concurrent `POST /users` share one multi-row insert.
//!
//! While earlier batches are in flight, the creates that queue behind them go out as ONE
//! statement, `INSERT ... SELECT FROM unnest($1, $2) ON CONFLICT DO NOTHING RETURNING`,
//! which is one transaction and one commit for all of them, then (only when some row
//! did not insert) one look-up by id of the rows that did not. Each request still gets
//! its own answer, as a lone create would:
//!
//! - inserted: created (201);
//! - not inserted, and the id exists with the same email (compared case-insensitively):
//!   an idempotent retry (200), also when the first copy of the request is in the same
//!   batch;
//! - not inserted, the id exists with another email: 409;
//! - not inserted and no such id: the email is taken (409), also when another request
//!   of the same batch took it. Rows insert in queue order, so exactly one wins.
//!
//! A row that fails never fails the others: the unique indexes are handled by `ON
//! CONFLICT DO NOTHING`, and when the statement fails for a reason that is not the
//! database's unavailability (data that breaks the statement), the batch's rows are
//! created one by one, so only the row at fault fails.
//!
//! A create taken into a batch is run even if its client goes away (see
//! `kit::db::coalesce`): a cancelled create is committed when its batch commits, and
//! a retry with the same id and email gets 200.
//!
//! Inserts send no `users_changed` notification and touch no cache (the caches keep only
//! users that exist), as before coalescing.

use std::collections::{HashMap, HashSet};

use sqlx::postgres::PgConnection;
use uuid::Uuid;

use kit::db::Database;
use kit::db::coalesce::{BatchLimits, Coalescer};

use super::batch::answer_batch;
use super::users::{CreateOutcome, StoreError};
use crate::domain::email::Email;
use crate::domain::user::User;

/// One create: the id (the client's or a fresh one) and the validated email.
#[derive(Clone)]
pub struct NewRow {
    pub id: Uuid,
    pub email: String,
}

type Outcome = Result<CreateOutcome, StoreError>;

/// Batches in flight at once. Each holds one pooled connection for its insert and
/// look-up; two keep the server busy while the next batch gathers.
const BATCHES_IN_FLIGHT: usize = 2;
/// Rows in one insert.
const MAX_ROWS: usize = 256;
/// Creates waiting for a batch before 503.
const QUEUE_DEPTH: usize = 4096;

/// The create path: batched when coalescing is on, else one insert per request.
pub struct Creates {
    database: Database,
    coalescer: Option<Coalescer<NewRow, Outcome>>,
}

impl Creates {
    /// With `coalesce`, starts the batch dispatcher on the current runtime.
    pub fn new(database: Database, coalesce: bool) -> Self {
        let coalescer = coalesce.then(|| {
            let limits = BatchLimits {
                in_flight: BATCHES_IN_FLIGHT,
                max_batch: MAX_ROWS,
                queue_depth: QUEUE_DEPTH,
            };
            let batch_database = database.clone();
            Coalescer::start("create_user", limits, move |rows| {
                let database = batch_database.clone();
                async move { create_batch(&database, rows).await }
            })
        });
        Creates {
            database,
            coalescer,
        }
    }

    /// Creates `email` with `id`, within the query deadline.
    pub async fn create(&self, id: Uuid, email: &Email) -> Outcome {
        let row = NewRow {
            id,
            email: email.as_str().to_owned(),
        };
        match &self.coalescer {
            Some(coalescer) => {
                self.database
                    .within(async { coalescer.call(row).await? })
                    .await
            }
            None => self.database.within(create_one(&self.database, &row)).await,
        }
    }
}

/// One answer per row, in order.
async fn create_batch(database: &Database, rows: Vec<NewRow>) -> Vec<Outcome> {
    let one = |row: &NewRow| {
        let (database, row) = (database.clone(), row.clone());
        async move { create_one(&database, &row).await }
    };
    answer_batch(
        database,
        "create_user",
        &rows,
        insert_many(database, &rows),
        one,
    )
    .await
}

/// The batch's insert, then one look-up for the rows that did not insert.
async fn insert_many(database: &Database, rows: &[NewRow]) -> Result<Vec<Outcome>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let emails: Vec<String> = rows.iter().map(|row| row.email.clone()).collect();
    let mut connection = database.acquire().await?;
    let inserted = sqlx::query_as!(
        User,
        r#"INSERT INTO users (id, email)
           SELECT * FROM unnest($1::uuid[], $2::text[])
           ON CONFLICT DO NOTHING
           RETURNING id, email, created_at, updated_at"#,
        &ids,
        &emails,
    )
    .fetch_all(&mut *connection)
    .await?;
    let inserted: HashMap<Uuid, User> = inserted.into_iter().map(|user| (user.id, user)).collect();
    let missing: Vec<Uuid> = ids
        .iter()
        .copied()
        .filter(|id| !inserted.contains_key(id))
        .collect();
    let existing: HashMap<Uuid, User> = if missing.is_empty() {
        HashMap::new()
    } else {
        let found = find_many(&mut connection, &missing).await?;
        found.into_iter().map(|user| (user.id, user)).collect()
    };
    let mut claimed = HashSet::with_capacity(inserted.len());
    let outcomes = rows
        .iter()
        .map(|row| {
            // The inserted row is this request's own when it has its email and no
            // earlier request of the batch claimed it (an exact duplicate comes later).
            if let Some(user) = inserted.get(&row.id)
                && user.email == row.email
                && claimed.insert(row.id)
            {
                return Ok(CreateOutcome::Created(user.clone()));
            }
            let stored = inserted.get(&row.id).or_else(|| existing.get(&row.id));
            resolve_not_inserted(row, stored.cloned())
        })
        .collect();
    Ok(outcomes)
}

/// A row that did not insert: the id or the email exists.
fn resolve_not_inserted(row: &NewRow, stored: Option<User>) -> Outcome {
    match stored {
        Some(existing) if existing.email.to_lowercase() == row.email.to_lowercase() => {
            Ok(CreateOutcome::AlreadyExisted(existing))
        }
        Some(_) => Err(StoreError::IdTakenWithOtherEmail),
        None => Err(StoreError::EmailTaken),
    }
}

/// A create on its own: one insert, and a look-up if it did not insert.
async fn create_one(database: &Database, row: &NewRow) -> Outcome {
    let mut connection = database.acquire().await?;
    let inserted = sqlx::query_as!(
        User,
        r#"INSERT INTO users (id, email) VALUES ($1, $2)
           ON CONFLICT DO NOTHING
           RETURNING id, email, created_at, updated_at"#,
        row.id,
        row.email,
    )
    .fetch_optional(&mut *connection)
    .await?;
    if let Some(user) = inserted {
        return Ok(CreateOutcome::Created(user));
    }
    let stored = find_many(&mut connection, &[row.id]).await?;
    resolve_not_inserted(row, stored.into_iter().next())
}

async fn find_many(connection: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<User>, sqlx::Error> {
    sqlx::query_as!(
        User,
        "SELECT id, email, created_at, updated_at FROM users WHERE id = ANY($1)",
        ids,
    )
    .fetch_all(connection)
    .await
}
