//! Users in PostgreSQL. Writes, lists and the create path go through SQLx's
//! compile-time checked queries (`.sqlx/` holds the checked query data so builds need no
//! database); the hot point read goes through the pipelined connections
//! (`kit::db::pipelined`), behind the optional cache. With `[database] coalesce` (on by
//! default) concurrent point reads share one `= ANY($1)` statement
//! (`kit::db::point_reads`), concurrent creates one multi-row insert
//! ([`super::creates`]), and concurrent email changes and deletes one statement each
//! ([`super::changes`]). Handlers do not know which path answered.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use sqlx::Row;
use tracing::Instrument;
use uuid::Uuid;

use kit::ApiError;
use kit::db::Database;
use kit::db::coalesce::Rejected;
use kit::db::deadline::DeadlineExceeded;
use kit::db::hedge::Hedge;
use kit::db::pipelined::{PipelinedReader, ReadError};
use kit::db::point_reads::{PointQuery, PointReads};
use kit::db::unavailable::Unavailability;

use super::cache::UserCache;
use super::changes::Changes;
use super::creates::Creates;
use super::cursor::Cursor;
use crate::domain::email::Email;
use crate::domain::user::User;

/// What a store call can fail with, beyond the database itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("email already taken")]
    EmailTaken,
    #[error("user id exists with another email")]
    IdTakenWithOtherEmail,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Deadline(#[from] DeadlineExceeded),
    /// A coalesced create or change was not run: the batch queue is full, or its batch ended
    /// without an answer.
    #[error(transparent)]
    NotBatched(#[from] Rejected),
    /// The statement of the batch this create or change was in failed (one error,
    /// shared by every call in the batch).
    #[error("the batched statement failed: {0}")]
    BatchFailed(Arc<StoreError>),
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::EmailTaken => ApiError::Conflict("Email already taken"),
            StoreError::IdTakenWithOtherEmail => {
                ApiError::Conflict("User id exists with another email")
            }
            StoreError::Database(error) => error.into(),
            StoreError::Read(error) => error.into(),
            StoreError::Deadline(error) => error.into(),
            StoreError::NotBatched(error) => ApiError::database_unavailable(&error),
            StoreError::BatchFailed(shared) => match Arc::try_unwrap(shared) {
                Ok(error) => error.into(),
                Err(shared) if shared.is_unavailable() => ApiError::database_unavailable(&shared),
                Err(shared) => ApiError::internal(shared),
            },
        }
    }
}

impl Unavailability for StoreError {
    fn is_unavailable(&self) -> bool {
        match self {
            StoreError::EmailTaken | StoreError::IdTakenWithOtherEmail => false,
            StoreError::Database(error) => error.is_unavailable(),
            StoreError::Read(error) => error.is_unavailable(),
            StoreError::Deadline(_) | StoreError::NotBatched(_) => true,
            StoreError::BatchFailed(shared) => shared.is_unavailable(),
        }
    }
}

/// The outcome of an idempotent create.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(User),
    /// The same id and email were created before: a retry.
    AlreadyExisted(User),
}

/// The unique index on `lower(email)`.
const EMAIL_UNIQUE_INDEX: &str = "users_email_lower_key";

pub(super) fn is_email_conflict(error: &sqlx::Error) -> bool {
    error.as_database_error().is_some_and(|error| {
        error.is_unique_violation() && error.constraint() == Some(EMAIL_UNIQUE_INDEX)
    })
}

/// The statements prepared on every pipelined connection, by index.
pub const READ_STATEMENTS: &[&str] = &[
    "SELECT id, email, created_at, updated_at FROM users WHERE id = $1",
    "SELECT id, email, created_at, updated_at FROM users WHERE id = ANY($1)",
];

/// A user by id, one (statement 0) or a batch (statement 1) at a time.
pub const GET_USER: PointQuery<Uuid, User> = PointQuery {
    name: "get_user",
    one: 0,
    many: 1,
    key: |row| row.try_get(0),
    decode: |row| {
        Ok(User {
            id: row.try_get(0)?,
            email: row.try_get(1)?,
            created_at: row.try_get(2)?,
            updated_at: row.try_get(3)?,
        })
    },
};

/// Reads and writes users.
#[derive(Clone)]
pub struct UserStore {
    /// Lists (the replica when one is configured).
    read_database: Database,
    /// Point reads over the pipelined connections; `None` with `database.read_path =
    /// "pool"`: through `read_database`.
    reads: Option<Arc<PointReads<Uuid, User>>>,
    /// When a point read late on the pipelined path also goes through the pool.
    read_hedge: Arc<Hedge>,
    creates: Arc<Creates>,
    changes: Arc<Changes>,
    cache: Option<Arc<UserCache>>,
}

impl UserStore {
    /// With `coalesce`, point reads, creates and changes are batched (see
    /// [`super::creates`], [`super::changes`] and `kit::db::point_reads`); this starts their dispatchers on the current runtime.
    pub fn new(
        database: Database,
        read_database: Database,
        reader: Option<Arc<PipelinedReader>>,
        cache: Option<Arc<UserCache>>,
        coalesce: bool,
        read_queue_depth: usize,
    ) -> Self {
        let reads = reader.map(|reader| {
            Arc::new(PointReads::new(
                reader,
                GET_USER,
                coalesce,
                read_queue_depth,
            ))
        });
        UserStore {
            creates: Arc::new(Creates::new(database.clone(), coalesce)),
            changes: Arc::new(Changes::new(database, coalesce)),
            read_database,
            reads,
            read_hedge: Arc::new(Hedge::never()),
            cache,
        }
    }

    /// Point reads still unanswered on the pipelined path after `after` are also sent
    /// through the pool, and the first answer wins (`database.read_hedge_ms`); at most
    /// `in_flight` at once.
    pub fn hedging_reads_after(mut self, after: Duration, in_flight: usize) -> Self {
        self.read_hedge = Arc::new(Hedge::new(after, in_flight));
        self
    }

    /// The user with `id` as the API renders it (`User::render`), from the cache when
    /// it is on.
    pub async fn get_rendered(&self, id: Uuid) -> Result<Option<Bytes>, StoreError> {
        let read_rendered = || async { Ok(self.read(id).await?.map(|user| user.render())) };
        match &self.cache {
            Some(cache) => cache.get_or_load(id, read_rendered).await,
            None => read_rendered().await,
        }
    }

    /// A point read over the pipelined connections (hedged through the pool when it is
    /// late), or through the pool without them.
    async fn read(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        match &self.reads {
            Some(reads) => {
                let pipelined = async { Ok(reads.get(id).await?) };
                let pooled = || self.read_database.within(self.read_pooled(id));
                self.read_hedge.run(pipelined, pooled).await
            }
            None => self.read_pooled(id).await,
        }
    }

    /// The textbook point read: check a connection out of the SQLx pool, one query, return it.
    async fn read_pooled(&self, id: Uuid) -> Result<Option<User>, StoreError> {
        let statement = READ_STATEMENTS[GET_USER.one];
        let span = kit::db::client_span(statement, self.read_database.namespace());
        let row = async {
            let mut connection = self.read_database.acquire().await?;
            sqlx::query(statement)
                .bind(id)
                .fetch_optional(&mut *connection)
                .await
        }
        .instrument(span)
        .await?;
        Ok(row
            .map(|row| -> Result<User, sqlx::Error> {
                Ok(User {
                    id: row.try_get(0)?,
                    email: row.try_get(1)?,
                    created_at: row.try_get(2)?,
                    updated_at: row.try_get(3)?,
                })
            })
            .transpose()?)
    }

    fn invalidate(&self, id: Uuid) {
        if let Some(cache) = &self.cache {
            cache.invalidate(id);
        }
    }

    /// Creates a user; with a client id, repeating the same request is harmless.
    pub async fn create(
        &self,
        id: Option<Uuid>,
        email: &Email,
    ) -> Result<CreateOutcome, StoreError> {
        let id = id.unwrap_or_else(Uuid::now_v7);
        self.creates.create(id, email).await
    }

    /// A page of users newest first, after `after`, and the cursor of the next page.
    pub async fn list(
        &self,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<(Vec<User>, Option<Cursor>), StoreError> {
        self.read_database.within(self.page(limit, after)).await
    }

    async fn page(
        &self,
        limit: u32,
        after: Option<Cursor>,
    ) -> Result<(Vec<User>, Option<Cursor>), StoreError> {
        let mut connection = self.read_database.acquire().await?;
        // One more row than asked tells whether another page exists.
        let fetch = i64::from(limit) + 1;
        let mut users = match after {
            None => {
                sqlx::query_as!(
                    User,
                    r#"SELECT id, email, created_at, updated_at FROM users
                       ORDER BY created_at DESC, id DESC LIMIT $1"#,
                    fetch,
                )
                .fetch_all(&mut *connection)
                .await?
            }
            Some(cursor) => {
                sqlx::query_as!(
                    User,
                    r#"SELECT id, email, created_at, updated_at FROM users
                       WHERE (created_at, id) < ($1, $2)
                       ORDER BY created_at DESC, id DESC LIMIT $3"#,
                    cursor.created_at,
                    cursor.id,
                    fetch,
                )
                .fetch_all(&mut *connection)
                .await?
            }
        };
        let next = if users.len() > limit as usize {
            users.truncate(limit as usize);
            users.last().map(|last| Cursor {
                created_at: last.created_at,
                id: last.id,
            })
        } else {
            None
        };
        Ok((users, next))
    }

    /// Sets a user's email; `None` when there is no such user.
    pub async fn update_email(&self, id: Uuid, email: &Email) -> Result<Option<User>, StoreError> {
        let updated = self.changes.update_email(id, email).await;
        // Forget the old row before the client hears of the new one, and also when the
        // outcome is unknown (a deadline or a lost connection after the commit).
        self.invalidate(id);
        updated
    }

    /// Deletes a user; false when there was none.
    pub async fn delete(&self, id: Uuid) -> Result<bool, StoreError> {
        let deleted = self.changes.delete(id).await;
        self.invalidate(id);
        Ok(deleted?.is_some())
    }
}
