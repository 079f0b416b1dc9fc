//! The database: a SQLx pool with server-side timeouts, migrations, and the embedded
//! PostgreSQL used when no `DATABASE_URL` is configured.
//!
//! Settings (`[database]`, see [`crate::config::DatabaseSettings`]): `pool_size`,
//! `acquire_timeout_ms` (how long a request waits for a connection before 503),
//! `statement_timeout_ms` and `idle_in_transaction_timeout_ms` (set on every connection
//! as startup parameters, so a runaway query or a forgotten transaction cannot hold a
//! connection forever).
//!
//! The embedded server itself is the `pg-embedded` crate's, shared with ferry and the tests.

pub mod notify;
pub mod pipelined;
#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, error::DatabaseError};

use crate::config::DatabaseSettings;
use pg_embedded::{EmbeddedError, EmbeddedOptions, EmbeddedPostgres};

/// Why the database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error("invalid database URL: {0}")]
    Url(#[source] sqlx::Error),
    #[error("cannot connect to PostgreSQL at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("applying migrations failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Where the database is: a configured server, or the embedded one we run.
pub struct DatabaseServer {
    pub url: String,
    pub read_url: Option<String>,
    /// Held to keep the embedded server running; `None` for a configured server.
    pub embedded: Option<EmbeddedPostgres>,
}

impl DatabaseServer {
    /// The configured server, or the embedded one started (or reused) in `data_dir`.
    pub async fn from_settings(settings: &DatabaseSettings) -> Result<Self, DbError> {
        match settings.url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => Ok(DatabaseServer {
                url: url.to_owned(),
                read_url: settings.read_url.clone(),
                embedded: None,
            }),
            None => {
                let embedded =
                    EmbeddedPostgres::start(EmbeddedOptions::persistent(&settings.data_dir))
                        .await?;
                Ok(DatabaseServer {
                    url: embedded.url("postgres"),
                    read_url: None,
                    embedded: Some(embedded),
                })
            }
        }
    }
}

/// The pool, plus the measurements the contract's metrics ask for.
#[derive(Clone, Debug)]
pub struct Database {
    pool: PgPool,
}

impl Database {
    /// A pool to `url` with the settings' size and timeouts. Connections are opened on
    /// demand, so the service starts (and reports not-ready) while the database is down.
    pub fn connect_lazy(url: &str, settings: &DatabaseSettings) -> Result<Self, DbError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(DbError::Url)?
            .options([
                (
                    "statement_timeout",
                    settings.statement_timeout_ms.to_string(),
                ),
                (
                    "idle_in_transaction_session_timeout",
                    settings.idle_in_transaction_timeout_ms.to_string(),
                ),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .min_connections(0)
            .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
            .connect_lazy_with(options);
        Ok(Database { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A pooled connection; the wait is recorded as `db_pool_acquire_wait_seconds`.
    pub async fn acquire(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        let started = Instant::now();
        let connection = self.pool.acquire().await;
        crate::metrics::record_pool_acquire_wait(started.elapsed());
        connection
    }

    /// Applies pending migrations.
    pub async fn migrate(&self, migrator: &Migrator) -> Result<(), DbError> {
        migrator.run(&self.pool).await?;
        Ok(())
    }

    /// `SELECT 1` within `within`: the readiness check.
    pub async fn ping(&self, within: Duration) -> bool {
        let ping = async {
            let mut connection = self.pool.acquire().await?;
            sqlx::query("SELECT 1").execute(&mut *connection).await
        };
        matches!(tokio::time::timeout(within, ping).await, Ok(Ok(_)))
    }

    /// Pool size and idle connections, for the metrics page.
    pub fn pool_state(&self) -> (u32, usize) {
        (self.pool.size(), self.pool.num_idle())
    }
}

/// Whether an error means "the database is not reachable right now" (a 503 the client
/// may retry) rather than a bug.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(database) => is_unavailable_code(database.as_ref()),
        _ => false,
    }
}

/// SQLSTATE classes of a server that is going away, starting, or out of capacity.
fn is_unavailable_code(error: &dyn DatabaseError) -> bool {
    let Some(code) = error.code() else {
        return false;
    };
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin/crash shutdown, cannot connect now
        || code == "53300" // too many connections
        || code == "57014" // statement timeout: overloaded
}

/// Connects once to check a URL, with a clear error naming the target.
pub async fn check_reachable(url: &str) -> Result<(), DbError> {
    use sqlx::Connection;
    let target = PgConnectOptions::from_str(url)
        .map(|options| format!("{}:{}", options.get_host(), options.get_port()))
        .unwrap_or_else(|_| "the configured URL".into());
    let connection = sqlx::PgConnection::connect(url)
        .await
        .map_err(|source| DbError::Connect { target, source })?;
    let _ = connection.close().await;
    Ok(())
}
