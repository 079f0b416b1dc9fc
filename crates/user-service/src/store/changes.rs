//! Changing users, coalesced: concurrent `PATCH /users/{id}` and `DELETE /users/{id}`
//! share one batch, its email changes one `UPDATE ... FROM unnest(...)` and its deletes
//! one `DELETE ... WHERE id = ANY($1) RETURNING`.
//!
//! The batch runs, on one connection, its email changes and then its deletes. So the
//! serial order a batch stands for is: its email changes in queue order, then its
//! deletes in queue order. A `PATCH` and a `DELETE` of one id in the same batch are
//! therefore 200 (with the new email) and 204. Between batches (two run at once, and
//! other replicas write too) PostgreSQL's row locks give the order. Each request gets
//! the answer it would get alone in that order:
//!
//! - an email change: the user (200); no such id (404); the email is held by another
//!   user (409), also when an earlier change of the same batch took it. For each email,
//!   the first change in queue order whose user exists wins; it is also the winner when
//!   its user already has that email in another case.
//! - a delete: the user as it was (204); no such id (404), also for every delete of an
//!   id after the first one in the batch.
//!
//! An `UPDATE ... FROM` touches each target row once, so one statement takes at most
//! one change per id: the changes of an id after its first go in a next statement, in
//! order (a round). Batches rarely hold two changes of one user.
//!
//! The statement checks emails against the rows it sees; a concurrent writer that
//! takes the same email first makes the statement fail with a unique violation. Then,
//! as for any failing statement, the rows go one by one (see [`super::batch`]), and only
//! the rows at fault get their 409.
//!
//! A change taken into a batch is run even if its client goes away (see
//! `kit::db::coalesce`). Cache invalidation stays with the caller ([`super::UserStore`]),
//! and the `users_changed` trigger notifies each changed row on commit, as before.

use std::collections::{HashMap, HashSet};

use uuid::Uuid;

use kit::db::Database;
use kit::db::coalesce::{BatchLimits, Coalescer};

use super::batch::{Answers, answer_batch};
use super::users::{StoreError, is_email_conflict};
use crate::domain::email::Email;
use crate::domain::user::User;

/// One change of a user.
#[derive(Clone)]
pub enum Change {
    Email { id: Uuid, email: String },
    Delete { id: Uuid },
}

/// The user as changed (for a delete, as it was deleted); `None` when there is no such
/// user.
type Outcome = Result<Option<User>, StoreError>;

/// Batches in flight at once, each on one pooled connection (as creates).
const BATCHES_IN_FLIGHT: usize = 2;
/// Changes in one batch.
const MAX_CHANGES: usize = 256;
/// Changes waiting for a batch before 503.
const QUEUE_DEPTH: usize = 4096;

/// The change path: batched when coalescing is on, else one statement per request.
pub struct Changes {
    database: Database,
    coalescer: Option<Coalescer<Change, Outcome>>,
}

impl Changes {
    /// With `coalesce`, starts the batch dispatcher on the current runtime.
    pub fn new(database: Database, coalesce: bool) -> Self {
        let coalescer = coalesce.then(|| {
            let limits = BatchLimits {
                in_flight: BATCHES_IN_FLIGHT,
                max_batch: MAX_CHANGES,
                queue_depth: QUEUE_DEPTH,
            };
            let batch_database = database.clone();
            Coalescer::start("change_user", limits, move |changes| {
                let database = batch_database.clone();
                async move { change_batch(&database, changes).await }
            })
        });
        Changes {
            database,
            coalescer,
        }
    }

    /// Sets the email of user `id`, within the query deadline.
    pub async fn update_email(&self, id: Uuid, email: &Email) -> Outcome {
        let email = email.as_str().to_owned();
        self.change(Change::Email { id, email }).await
    }

    /// Deletes user `id`, within the query deadline.
    pub async fn delete(&self, id: Uuid) -> Outcome {
        self.change(Change::Delete { id }).await
    }

    async fn change(&self, change: Change) -> Outcome {
        match &self.coalescer {
            Some(coalescer) => {
                self.database
                    .within(async { coalescer.call(change).await? })
                    .await
            }
            None => {
                self.database
                    .within(change_one(&self.database, &change))
                    .await
            }
        }
    }
}

/// One answer per change, in order: the email changes, then the deletes.
async fn change_batch(database: &Database, changes: Vec<Change>) -> Vec<Outcome> {
    let mut emails = Vec::new();
    let mut deletes = Vec::new();
    for (position, change) in changes.into_iter().enumerate() {
        match change {
            Change::Email { .. } => emails.push((position, change)),
            Change::Delete { .. } => deletes.push((position, change)),
        }
    }
    let mut answered = Vec::with_capacity(emails.len() + deletes.len());
    for round in rounds(emails) {
        let (positions, round): (Vec<usize>, Vec<Change>) = round.into_iter().unzip();
        let answers = run(
            database,
            "update_user",
            &round,
            update_many(database, &round),
        )
        .await;
        answered.extend(positions.into_iter().zip(answers));
    }
    if !deletes.is_empty() {
        let (positions, deletes): (Vec<usize>, Vec<Change>) = deletes.into_iter().unzip();
        let answers = run(
            database,
            "delete_user",
            &deletes,
            delete_many(database, &deletes),
        )
        .await;
        answered.extend(positions.into_iter().zip(answers));
    }
    answered.sort_unstable_by_key(|(position, _)| *position);
    answered.into_iter().map(|(_, outcome)| outcome).collect()
}

/// A batch statement with the one-by-one fallback of [`answer_batch`].
async fn run(
    database: &Database,
    batch: &'static str,
    changes: &[Change],
    many: impl Future<Output = Result<Answers<Option<User>>, StoreError>>,
) -> Vec<Outcome> {
    let one = |change: &Change| {
        let (database, change) = (database.clone(), change.clone());
        async move { change_one(&database, &change).await }
    };
    answer_batch(database, batch, changes, many, one).await
}

/// Splits queued email changes into statements that each change an id at most once:
/// the n-th change of an id goes in the n-th round. Positions travel with the changes.
fn rounds(changes: Vec<(usize, Change)>) -> Vec<Vec<(usize, Change)>> {
    let mut seen: HashMap<Uuid, usize> = HashMap::with_capacity(changes.len());
    let mut rounds: Vec<Vec<(usize, Change)>> = Vec::new();
    for (position, change) in changes {
        let earlier = seen.entry(change.id()).or_insert(0);
        if rounds.len() <= *earlier {
            rounds.push(Vec::new());
        }
        rounds[*earlier].push((position, change));
        *earlier += 1;
    }
    rounds
}

impl Change {
    fn id(&self) -> Uuid {
        match self {
            Change::Email { id, .. } | Change::Delete { id } => *id,
        }
    }
}

/// One round's email changes in one statement (distinct ids), then one look-up of the
/// ids that did not change: present is 409 (the email is held), absent is 404.
async fn update_many(
    database: &Database,
    changes: &[Change],
) -> Result<Answers<Option<User>>, StoreError> {
    let mut ids = Vec::with_capacity(changes.len());
    let mut emails = Vec::with_capacity(changes.len());
    for change in changes {
        if let Change::Email { id, email } = change {
            ids.push(*id);
            emails.push(email.clone());
        }
    }
    let mut connection = database.acquire().await?;
    // `winners`: per email, the first change (in queue order) of an existing user whose
    // email no other user holds. Emails are then distinct, so no row of the statement
    // meets another at the unique index.
    let updated = sqlx::query_as!(
        User,
        r#"WITH batch AS (
               SELECT * FROM unnest($1::uuid[], $2::text[]) WITH ORDINALITY AS batch (id, email, position)
           ), winners AS (
               SELECT DISTINCT ON (lower(batch.email)) batch.id, batch.email
               FROM batch JOIN users ON users.id = batch.id
               WHERE NOT EXISTS (
                   SELECT 1 FROM users AS holder
                   WHERE lower(holder.email) = lower(batch.email) AND holder.id <> batch.id)
               ORDER BY lower(batch.email), batch.position
           )
           UPDATE users SET email = winners.email,
                            updated_at = date_trunc('milliseconds', clock_timestamp())
           FROM winners WHERE users.id = winners.id
           RETURNING users.id AS "id!", users.email AS "email!",
                     users.created_at AS "created_at!", users.updated_at AS "updated_at!""#,
        &ids,
        &emails,
    )
    .fetch_all(&mut *connection)
    .await?;
    let mut updated: HashMap<Uuid, User> =
        updated.into_iter().map(|user| (user.id, user)).collect();
    let unchanged: Vec<Uuid> = ids
        .iter()
        .copied()
        .filter(|id| !updated.contains_key(id))
        .collect();
    let present: HashSet<Uuid> = if unchanged.is_empty() {
        HashSet::new()
    } else {
        sqlx::query_scalar!("SELECT id FROM users WHERE id = ANY($1)", &unchanged)
            .fetch_all(&mut *connection)
            .await?
            .into_iter()
            .collect()
    };
    Ok(ids
        .iter()
        .map(|id| match updated.remove(id) {
            Some(user) => Ok(Some(user)),
            None if present.contains(id) => Err(StoreError::EmailTaken),
            None => Ok(None),
        })
        .collect())
}

/// The batch's deletes in one statement; of several deletes of one id, the first in
/// queue order deleted it and the others find none.
async fn delete_many(
    database: &Database,
    changes: &[Change],
) -> Result<Answers<Option<User>>, StoreError> {
    let ids: Vec<Uuid> = changes.iter().map(Change::id).collect();
    let mut connection = database.acquire().await?;
    let deleted = sqlx::query_as!(
        User,
        "DELETE FROM users WHERE id = ANY($1) RETURNING id, email, created_at, updated_at",
        &ids,
    )
    .fetch_all(&mut *connection)
    .await?;
    let mut deleted: HashMap<Uuid, User> =
        deleted.into_iter().map(|user| (user.id, user)).collect();
    Ok(ids.iter().map(|id| Ok(deleted.remove(id))).collect())
}

/// A change on its own: one statement.
async fn change_one(database: &Database, change: &Change) -> Outcome {
    let mut connection = database.acquire().await?;
    match change {
        Change::Email { id, email } => sqlx::query_as!(
            User,
            r#"UPDATE users SET email = $2, updated_at = date_trunc('milliseconds', clock_timestamp())
               WHERE id = $1
               RETURNING id, email, created_at, updated_at"#,
            id,
            email,
        )
        .fetch_optional(&mut *connection)
        .await
        .map_err(|error| {
            if is_email_conflict(&error) {
                StoreError::EmailTaken
            } else {
                StoreError::Database(error)
            }
        }),
        Change::Delete { id } => Ok(sqlx::query_as!(
            User,
            "DELETE FROM users WHERE id = $1 RETURNING id, email, created_at, updated_at",
            id,
        )
        .fetch_optional(&mut *connection)
        .await?),
    }
}
