//! The database: a SQLx pool with server-side timeouts, migrations, and the embedded
//! PostgreSQL used when no `DATABASE_URL` is configured.
//!
//! Settings (`[database]`, see [`crate::config::DatabaseSettings`]): `pool_size`,
//! `acquire_timeout_ms` (how long a request waits for a connection before 503),
//! `statement_timeout_ms` and `idle_in_transaction_timeout_ms` (set on every connection
//! as startup parameters, so a runaway query or a forgotten transaction cannot hold a
//! connection forever), `query_timeout_ms` (the client-side deadline of every call, see
//! [`deadline`]).
//!
//! Failures mean one thing whichever driver met them: [`unavailable`] classifies both.
//!
//! The embedded server itself is the `pg-embedded` crate's, shared with ferry and the tests.

pub mod client_span;
#[cfg(feature = "pipelined")]
pub mod coalesce;
pub mod deadline;
pub mod hedge;
pub mod notify;
#[cfg(feature = "pipelined")]
pub mod pipelined;
#[cfg(feature = "pipelined")]
pub mod point_reads;
#[cfg(feature = "testing")]
pub mod testing;
pub mod unavailable;

pub use client_span::client_span;

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::Postgres;
use sqlx::migrate::Migrator;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::config::{DatabaseSettings, Environment};
use deadline::DeadlineExceeded;
#[cfg(feature = "embedded-postgres")]
use pg_embedded::{EmbeddedError, EmbeddedOptions, EmbeddedPostgres};

/// Why the database could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "invalid configuration: `database.url` (DATABASE_URL) must be set in production; \
         the embedded PostgreSQL is for development and tests only"
    )]
    EmbeddedInProduction,
    #[cfg(feature = "embedded-postgres")]
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[cfg(not(feature = "embedded-postgres"))]
    #[error(
        "invalid configuration: `database.url` (DATABASE_URL) is not set, and this service \
         was built without the kit's `embedded-postgres` feature"
    )]
    NoUrl,
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
    #[cfg(feature = "embedded-postgres")]
    pub embedded: Option<EmbeddedPostgres>,
}

impl DatabaseServer {
    /// The configured server, or the embedded one started (or reused) in `data_dir`;
    /// never the embedded one in production.
    pub async fn from_settings(
        settings: &DatabaseSettings,
        environment: Environment,
    ) -> Result<Self, DbError> {
        match settings.url.as_deref().filter(|url| !url.is_empty()) {
            Some(url) => Ok(DatabaseServer {
                url: url.to_owned(),
                read_url: settings.read_url.clone(),
                #[cfg(feature = "embedded-postgres")]
                embedded: None,
            }),
            None if environment == Environment::Production => Err(DbError::EmbeddedInProduction),
            #[cfg(not(feature = "embedded-postgres"))]
            None => Err(DbError::NoUrl),
            #[cfg(feature = "embedded-postgres")]
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

    /// Which database this is, for the start-up log line (no password).
    pub fn describe(&self) -> String {
        #[cfg(feature = "embedded-postgres")]
        if let Some(embedded) = &self.embedded {
            return format!(
                "embedded PostgreSQL in {} (its socket in {})",
                embedded.data_dir().display(),
                embedded.socket_dir().display()
            );
        }
        "DATABASE_URL".to_owned()
    }
}

/// The pool, plus the measurements the contract's metrics ask for.
#[derive(Clone, Debug)]
pub struct Database {
    pool: PgPool,
    /// The client-side deadline of every call made through [`Database::within`].
    query_deadline: Duration,
    /// The database's name (`db.namespace` of the statement spans).
    namespace: std::sync::Arc<str>,
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
        let namespace = options.get_database().unwrap_or("postgres").into();
        let pool = PgPoolOptions::new()
            .max_connections(settings.pool_size)
            .min_connections(0)
            .acquire_timeout(Duration::from_millis(settings.acquire_timeout_ms))
            .connect_lazy_with(options);
        Ok(Database {
            pool,
            query_deadline: Duration::from_millis(settings.query_timeout_ms),
            namespace,
        })
    }

    /// Runs one store call (acquire and queries) within `[database] query_timeout_ms`.
    pub async fn within<T, E>(&self, call: impl Future<Output = Result<T, E>>) -> Result<T, E>
    where
        E: From<DeadlineExceeded>,
    {
        deadline::within(self.query_deadline, call).await
    }

    /// The database's name, for [`client_span`].
    pub fn namespace(&self) -> &str {
        &self.namespace
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

/// Connects once to check a URL, with a clear error naming the target.
pub async fn check_reachable(url: &str) -> Result<(), DbError> {
    use sqlx::Connection;
    let target = PgConnectOptions::from_str(url)
        .map(|options| match options.get_socket() {
            Some(dir) => format!("the socket in {}", dir.display()),
            None => format!("{}:{}", options.get_host(), options.get_port()),
        })
        .unwrap_or_else(|_| "the configured URL".into());
    let connection = sqlx::PgConnection::connect(url)
        .await
        .map_err(|source| DbError::Connect { target, source })?;
    let _ = connection.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{DatabaseServer, DbError};
    use crate::config::{DatabaseSettings, Environment};

    #[tokio::test]
    async fn production_refuses_the_embedded_database() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let settings = DatabaseSettings {
            data_dir: directory.path().join("postgres"),
            ..DatabaseSettings::default()
        };
        let refused = DatabaseServer::from_settings(&settings, Environment::Production).await;
        assert!(
            matches!(refused, Err(DbError::EmbeddedInProduction)),
            "production started without DATABASE_URL"
        );
        assert!(
            refused
                .err()
                .is_some_and(|error| error.to_string().contains("DATABASE_URL")),
            "the error names DATABASE_URL"
        );
        assert!(
            !settings.data_dir.exists(),
            "no cluster is created in production"
        );
    }
}
