//! Layered configuration.
//!
//! Sources, later ones winning:
//! 1. the defaults in code (the `Default` impls below; `config/base.toml` repeats them
//!    so an operator reads them in one place, and a test keeps the two equal);
//! 2. `config/base.toml`;
//! 3. `config/$APP_ENV.toml` (`APP_ENV` defaults to `local`; `production` is the other
//!    file we ship);
//! 4. `APP_*` environment variables, `__` separating levels: `APP_SERVER__PORT=9000`,
//!    `APP_DATABASE__POOL_SIZE=40`;
//! 5. the plain variables of the runtime interface shared with the Node baseline:
//!    `DATABASE_URL`, `DATABASE_READ_URL`, `HOST`, `PORT`, `JWT_SECRET`, `DB_POOL_SIZE`,
//!    `WORKERS`.
//!
//! The configuration directory is `APP_CONFIG_DIR` when set, else the first of the
//! service's [`ServiceSettings::CONFIG_DIRS`] (relative to the working directory) that
//! exists: `config/`, and for the user-service also `crates/user-service/config`, so that
//! it is found from the repository root as from its crate. [`kit::app::run`] logs the
//! folder read. Missing files are skipped (the defaults are complete).
//!
//! [`kit::app::run`]: crate::app::run
//! A value of the wrong type stops start-up with a message naming the key, where it
//! came from and the expected form; [`Validate`] adds the checks types cannot express.
//!
//! Settings every service shares live here ([`ServerSettings`], [`DatabaseSettings`],
//! [`AuthSettings`], [`LogSettings`]); a service wraps them in its own struct.

mod dir;
mod redact;
mod secret;
mod service;
mod validate;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use dir::{config_dir, describe_config_dir, find_config_dir};
pub use secret::Secret;
pub use service::ServiceSettings;

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be read as its type; figment names the key and the source.
    #[error("invalid configuration: {0}")]
    Invalid(Box<figment::Error>),
    /// A value has the right type but a wrong value.
    #[error("invalid configuration: `{key}` {problem}")]
    Value { key: &'static str, problem: String },
}

impl From<figment::Error> for ConfigError {
    fn from(error: figment::Error) -> Self {
        ConfigError::Invalid(Box::new(error))
    }
}

/// Checks that types cannot express (ranges, files that must exist).
pub trait Validate {
    fn validate(&self) -> Result<(), ConfigError>;
}

/// The deployment environment, from `APP_ENV`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Production,
    Test,
}

impl Environment {
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("APP_ENV").as_deref() {
            Err(_) | Ok("local") | Ok("") => Ok(Environment::Local),
            Ok("production") => Ok(Environment::Production),
            Ok("test") => Ok(Environment::Test),
            Ok(other) => Err(ConfigError::Value {
                key: "APP_ENV",
                problem: format!("is {other:?}; expected one of local, production, test"),
            }),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Production => "production",
            Environment::Test => "test",
        }
    }
}

/// The plain environment variables of the runtime interface our services share with the
/// Node baseline, and the key each sets: the default of [`figment_with`]'s `variables`.
/// A service with other names passes its own list ([`ServiceSettings::VARIABLES`]).
pub const SHARED_VARIABLES: &[(&str, &str)] = &[
    ("database_url", "database.url"),
    ("database_read_url", "database.read_url"),
    ("host", "server.host"),
    ("port", "server.port"),
    ("jwt_secret", "auth.jwt_secret"),
    ("db_pool_size", "database.pool_size"),
    ("workers", "server.workers"),
];

/// The figment of every layer, for a settings type `T` whose `Default` is complete, with
/// the [`SHARED_VARIABLES`].
pub fn figment<T: Serialize + Default>(dir: &Path, environment: Environment) -> Figment {
    figment_with::<T>(dir, environment, SHARED_VARIABLES)
}

/// The figment of every layer, with `variables` (plain variable name, lower case, and the
/// key it sets) as the last layer.
pub fn figment_with<T: Serialize + Default>(
    dir: &Path,
    environment: Environment,
    variables: &'static [(&'static str, &'static str)],
) -> Figment {
    let plain_names: Vec<&str> = variables.iter().map(|(name, _)| *name).collect();
    Figment::from(Serialized::defaults(T::default()))
        .merge(Toml::file(dir.join("base.toml")))
        .merge(Toml::file(
            dir.join(format!("{}.toml", environment.as_str())),
        ))
        .merge(
            Env::prefixed("APP_")
                .split("__")
                .ignore(&["env", "config_dir"]),
        )
        .merge(Env::raw().only(&plain_names).map(move |name| {
            variables
                .iter()
                .find(|(plain, _)| name == *plain)
                .map(|(_, key)| (*key).into())
                .unwrap_or_else(|| name.into())
        }))
}

/// Loads and validates settings from every layer, with the [`SHARED_VARIABLES`].
pub fn load<T>(dir: &Path, environment: Environment) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default + Validate,
{
    load_with(dir, environment, SHARED_VARIABLES)
}

/// Loads and validates settings from every layer, with `variables` as the plain ones.
pub fn load_with<T>(
    dir: &Path,
    environment: Environment,
    variables: &'static [(&'static str, &'static str)],
) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default + Validate,
{
    let settings: T = figment_with::<T>(dir, environment, variables).extract()?;
    settings.validate()?;
    Ok(settings)
}

/// `[server]`: where and how the HTTP server listens.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to bind (`HOST`).
    pub host: String,
    /// Port to bind (`PORT`); 0 picks a free one (tests).
    pub port: u16,
    /// Worker threads; 0 means one per core (`WORKERS`).
    pub workers: usize,
    /// Longest time in-flight requests get to finish after SIGTERM/SIGINT (the grace
    /// period below included).
    pub drain_timeout_secs: u64,
    /// After SIGTERM/SIGINT, keep accepting (with readiness 503 and `Connection: close`)
    /// this long before closing the listener, so load balancers that poll readiness
    /// stop sending traffic before connections are refused.
    pub drain_grace_ms: u64,
    /// Idle keep-alive connections are closed after this many seconds.
    pub keep_alive_secs: u64,
    /// A request head not complete within this many milliseconds gets 408: the first
    /// head of a connection from its accept, a later one from its first byte (and
    /// within `keep_alive_secs` plus this of the previous response).
    pub head_timeout_ms: u64,
    /// A request body's grace period: a body byte at offset `n` must arrive within
    /// this plus `n / body_min_bytes_per_sec` of the head, else 408.
    pub body_timeout_ms: u64,
    /// The minimum rate of a large body, in bytes per second.
    pub body_min_bytes_per_sec: u64,
    /// Bytes that all request bodies in flight may hold together; a body that would
    /// pass it gets 503 `Overloaded` with `Retry-After: 1`.
    pub body_budget_bytes: usize,
    /// Connections held at once; 0 derives it from `RLIMIT_NOFILE` (raised to its hard
    /// limit at start) less 1,024 descriptors. Past it, connections wait in the backlog.
    pub max_connections: usize,
    /// The listen backlog (the kernel caps it at `net.core.somaxconn`).
    pub backlog: u32,
    /// After an answer sent before its body was read, how long the unread rest is
    /// read and dropped (a lingering close) so that the client reads the answer.
    pub linger_ms: u64,
    /// The request span, request id and request metrics (`kit::http::observe`,
    /// `kit::http::request_id`). Off only to measure what they cost
    /// (`labs/log-filter.toml`): responses then lack the contract's `x-request-id`.
    pub request_telemetry: bool,
    /// The longest request head (request line and header lines) in bytes; past it 431.
    pub max_head_bytes: usize,
    /// The most header fields a request may have; past it 431.
    pub max_headers: usize,
    /// The JSON body limit of every route that sets none itself
    /// (`kit::http::json::BodyLimit`); past it 413.
    pub body_limit_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            host: "127.0.0.1".into(),
            port: 8080,
            workers: 0,
            drain_timeout_secs: 30,
            drain_grace_ms: 1000,
            keep_alive_secs: 5,
            head_timeout_ms: 5000,
            body_timeout_ms: 5000,
            body_min_bytes_per_sec: 256 * 1024,
            body_budget_bytes: 32 * 1024 * 1024,
            max_connections: 0,
            backlog: 4096,
            linger_ms: 1000,
            request_telemetry: true,
            max_head_bytes: crate::http::limits::MAX_HEAD_BYTES,
            max_headers: crate::http::limits::MAX_HEADERS,
            body_limit_bytes: crate::http::json::DEFAULT_BODY_LIMIT,
        }
    }
}

/// `[database]`: which PostgreSQL to use and how. `Debug` hides the URLs' passwords.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `DATABASE_URL`. Empty: start the embedded PostgreSQL in `data_dir`.
    pub url: Option<String>,
    /// `DATABASE_READ_URL`: a replica for reads. Empty: reads use `url`.
    pub read_url: Option<String>,
    /// Connection budget of the SQLx pool (`DB_POOL_SIZE`): writes, lists, transactions.
    pub pool_size: u32,
    /// Long-lived pipelined connections for point reads (see `kit::db::pipelined`); on
    /// top of `pool_size`. One measured best on a 2-core machine (one backend keeps one
    /// core busy and leaves the other to the service): `labs/read-path.toml`.
    pub read_connections: usize,
    /// Queries in flight at once on each pipelined connection; past it a point read is
    /// answered 503 at once rather than queued without bound behind a stalled server.
    pub read_queue_depth: usize,
    /// A point read still unanswered on the pipelined connections after this many
    /// milliseconds is also sent through the pool, and the first answer wins
    /// (`kit::db::hedge`): a backend the scheduler left off the CPU delays only the reads
    /// that were already on it. 0: never. Above the pipelined read's p99 at saturation
    /// (about 7 ms on the 2-core reference machine), so that normally nothing is sent twice.
    pub read_hedge_ms: u64,
    /// How long a request waits for a pooled connection before 503.
    pub acquire_timeout_ms: u64,
    /// Server-side `statement_timeout` of every pooled connection.
    pub statement_timeout_ms: u64,
    /// Server-side `idle_in_transaction_session_timeout` of every pooled connection.
    pub idle_in_transaction_timeout_ms: u64,
    /// Client-side deadline of every database call (a point read, or a store call's
    /// acquire and queries together): past it the answer is 503, even when the server
    /// never answers (a blackholed network). Above `statement_timeout_ms`, so that the
    /// server's own timeout normally ends a slow statement first.
    pub query_timeout_ms: u64,
    /// Where the embedded PostgreSQL keeps its cluster (when `url` is empty).
    pub data_dir: PathBuf,
    /// Apply pending migrations when the service starts.
    pub migrate_on_start: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            read_url: None,
            pool_size: 20,
            read_connections: 1,
            read_queue_depth: 1024,
            read_hedge_ms: 10,
            acquire_timeout_ms: 3000,
            statement_timeout_ms: 5000,
            idle_in_transaction_timeout_ms: 10_000,
            query_timeout_ms: 6000,
            data_dir: PathBuf::from(".data/postgres"),
            migrate_on_start: true,
        }
    }
}

/// The JWT signature algorithm: HS256 with a shared secret, or EdDSA / RS256 with a
/// public key file. An enum, so that a misspelt name stops start-up rather than
/// silently verifying with another algorithm.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum JwtAlgorithm {
    HS256,
    EdDSA,
    RS256,
}

impl JwtAlgorithm {
    /// Whether this algorithm verifies with a public key (else with a shared secret).
    pub fn uses_public_key(self) -> bool {
        !matches!(self, JwtAlgorithm::HS256)
    }
}

/// The shortest HS256 secret accepted: 256 bits, the size of the HMAC-SHA256 output
/// (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

/// `[auth]`: how bearer tokens are verified.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// HS256 shared secret (`JWT_SECRET`), at least [`MIN_SECRET_BYTES`] bytes.
    pub jwt_secret: Option<Secret>,
    /// PEM public key file for EdDSA or RS256 (instead of a secret: not both).
    pub public_key_file: Option<PathBuf>,
    /// `HS256`, `EdDSA` or `RS256`.
    pub algorithm: JwtAlgorithm,
    /// Required `iss`, when set: a token without it is refused.
    pub issuer: Option<String>,
    /// Required `aud`, when set: a token without it is refused; an `aud` array is
    /// accepted when it contains this audience.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
    /// With no secret and no key outside production, create a development secret once
    /// and keep it in this file (written atomically, owner-only; checked when read).
    pub dev_secret_file: PathBuf,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            jwt_secret: None,
            public_key_file: None,
            algorithm: JwtAlgorithm::HS256,
            issuer: None,
            audience: None,
            leeway_secs: 30,
            dev_secret_file: PathBuf::from(".data/jwt-secret"),
        }
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Pretty when standard output is a terminal, JSON otherwise.
    Auto,
    Json,
    Pretty,
}

/// `[log]`: what is logged and how.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// An `EnvFilter` directive; `RUST_LOG` wins when set.
    pub filter: String,
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            filter: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

#[cfg(test)]
mod tests;
