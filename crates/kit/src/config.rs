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
//! The configuration directory is `config/` under the working directory, or
//! `APP_CONFIG_DIR`. Missing files are skipped (the defaults are complete).
//! A value of the wrong type stops start-up with a message naming the key, where it
//! came from and the expected form; [`Validate`] adds the checks types cannot express.
//!
//! Settings every service shares live here ([`ServerSettings`], [`DatabaseSettings`],
//! [`AuthSettings`], [`LogSettings`]); a service wraps them in its own struct.

mod secret;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use secret::Secret;

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

/// Where the layered files are read from.
pub fn config_dir() -> PathBuf {
    std::env::var_os("APP_CONFIG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("config"))
}

/// Plain environment variables of the shared runtime interface and the key each sets.
const PLAIN_VARIABLES: &[(&str, &str)] = &[
    ("database_url", "database.url"),
    ("database_read_url", "database.read_url"),
    ("host", "server.host"),
    ("port", "server.port"),
    ("jwt_secret", "auth.jwt_secret"),
    ("db_pool_size", "database.pool_size"),
    ("workers", "server.workers"),
];

/// The figment of every layer, for a settings type `T` whose `Default` is complete.
pub fn figment<T: Serialize + Default>(dir: &Path, environment: Environment) -> Figment {
    let plain_names: Vec<&str> = PLAIN_VARIABLES.iter().map(|(name, _)| *name).collect();
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
        .merge(Env::raw().only(&plain_names).map(|name| {
            PLAIN_VARIABLES
                .iter()
                .find(|(plain, _)| name == *plain)
                .map(|(_, key)| (*key).into())
                .unwrap_or_else(|| name.into())
        }))
}

/// Loads and validates settings from every layer.
pub fn load<T>(dir: &Path, environment: Environment) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default + Validate,
{
    let settings: T = figment::<T>(dir, environment).extract()?;
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
    /// A request head not complete within this many milliseconds gets 408.
    pub head_timeout_ms: u64,
    /// The request span, request id and request metrics (`kit::http::observe`,
    /// `kit::http::request_id`). Off only to measure what they cost
    /// (`scripts/bench-telemetry.sh`): responses then lack the contract's `x-request-id`.
    pub request_telemetry: bool,
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
            request_telemetry: true,
        }
    }
}

/// `[database]`: which PostgreSQL to use and how.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// core busy and leaves the other to the service): `scripts/bench-read-path.sh`.
    pub read_connections: usize,
    /// Queries in flight at once on each pipelined connection; past it a point read is
    /// answered 503 at once rather than queued without bound behind a stalled server.
    pub read_queue_depth: usize,
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
    /// Coalesce concurrent point reads (one `= ANY($1)` statement) and creates (one
    /// multi-row insert) while earlier statements are in flight (`kit::db::coalesce`).
    /// Off: one statement per request.
    pub coalesce: bool,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: None,
            read_url: None,
            pool_size: 20,
            read_connections: 1,
            read_queue_depth: 1024,
            acquire_timeout_ms: 3000,
            statement_timeout_ms: 5000,
            idle_in_transaction_timeout_ms: 10_000,
            query_timeout_ms: 6000,
            data_dir: PathBuf::from(".data/postgres"),
            migrate_on_start: true,
            coalesce: true,
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

impl Validate for ServerSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.host.parse::<std::net::IpAddr>().is_err() && self.host != "localhost" {
            return Err(ConfigError::Value {
                key: "server.host",
                problem: format!(
                    "is {:?}; expected an IP address such as 127.0.0.1 or 0.0.0.0",
                    self.host
                ),
            });
        }
        if self.drain_grace_ms >= self.drain_timeout_secs * 1000 {
            return Err(ConfigError::Value {
                key: "server.drain_grace_ms",
                problem: format!(
                    "is {} ms, not less than server.drain_timeout_secs ({} s); the grace period is part of the drain",
                    self.drain_grace_ms, self.drain_timeout_secs
                ),
            });
        }
        if self.drain_timeout_secs == 0 {
            return Err(ConfigError::Value {
                key: "server.drain_timeout_secs",
                problem: "is 0; expected at least 1 second".into(),
            });
        }
        Ok(())
    }
}

impl Validate for DatabaseSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        for (key, url) in [
            ("database.url", &self.url),
            ("database.read_url", &self.read_url),
        ] {
            if let Some(url) = url
                && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
            {
                return Err(ConfigError::Value {
                    key,
                    problem: "is not a PostgreSQL URL; expected postgres://user:password@host:port/database".into(),
                });
            }
        }
        for (key, value) in [
            ("database.pool_size", u64::from(self.pool_size)),
            ("database.read_queue_depth", self.read_queue_depth as u64),
            ("database.query_timeout_ms", self.query_timeout_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::Value {
                    key,
                    problem: "is 0; expected at least 1".into(),
                });
            }
        }
        Ok(())
    }
}

impl Validate for AuthSettings {
    fn validate(&self) -> Result<(), ConfigError> {
        let secret = self
            .jwt_secret
            .as_ref()
            .filter(|secret| !secret.expose().is_empty());
        if let (Some(_), Some(path)) = (secret, &self.public_key_file) {
            return Err(ConfigError::Value {
                key: "auth.jwt_secret",
                problem: format!(
                    "(JWT_SECRET) and auth.public_key_file ({}) are both set; configure one key",
                    path.display()
                ),
            });
        }
        if let Some(secret) = secret
            && secret.expose().len() < MIN_SECRET_BYTES
        {
            return Err(ConfigError::Value {
                key: "auth.jwt_secret",
                problem: format!(
                    "(JWT_SECRET) is {} bytes; expected at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -hex 32`)",
                    secret.expose().len()
                ),
            });
        }
        match (self.algorithm.uses_public_key(), &self.public_key_file) {
            (true, None) => Err(ConfigError::Value {
                key: "auth.public_key_file",
                problem: format!(
                    "is not set; algorithm {:?} needs a PEM public key file",
                    self.algorithm
                ),
            }),
            (false, Some(path)) => Err(ConfigError::Value {
                key: "auth.algorithm",
                problem: format!(
                    "is HS256, which verifies with a shared secret, but auth.public_key_file ({}) is set; expected EdDSA or RS256",
                    path.display()
                ),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(adjust: impl FnOnce(&mut AuthSettings)) -> Result<(), ConfigError> {
        let mut settings = AuthSettings::default();
        adjust(&mut settings);
        settings.validate()
    }

    fn refused_naming(result: Result<(), ConfigError>, key: &str) {
        match result {
            Err(ConfigError::Value { key: named, .. }) => assert_eq!(named, key),
            other => panic!("expected an error naming {key}, got {other:?}"),
        }
    }

    #[test]
    fn a_short_secret_stops_start_up_naming_the_key() {
        refused_naming(
            auth(|s| s.jwt_secret = Some("short".into())),
            "auth.jwt_secret",
        );
        let thirty_one = "x".repeat(MIN_SECRET_BYTES - 1);
        refused_naming(
            auth(|s| s.jwt_secret = Some(thirty_one.as_str().into())),
            "auth.jwt_secret",
        );
        let enough = "x".repeat(MIN_SECRET_BYTES);
        auth(|s| s.jwt_secret = Some(enough.as_str().into())).expect("32 bytes are enough");
    }

    #[test]
    fn a_secret_and_a_key_file_together_are_refused() {
        refused_naming(
            auth(|s| {
                s.jwt_secret = Some("x".repeat(40).into());
                s.public_key_file = Some("jwt.pub.pem".into());
                s.algorithm = JwtAlgorithm::EdDSA;
            }),
            "auth.jwt_secret",
        );
    }

    #[test]
    fn hs256_with_a_key_file_is_refused_rather_than_run_as_rs256() {
        refused_naming(
            auth(|s| s.public_key_file = Some("jwt.pub.pem".into())),
            "auth.algorithm",
        );
        refused_naming(
            auth(|s| s.algorithm = JwtAlgorithm::RS256),
            "auth.public_key_file",
        );
    }

    #[test]
    fn an_unknown_algorithm_name_is_a_configuration_error() {
        let parsed: Result<AuthSettings, _> =
            Figment::from(Serialized::defaults(AuthSettings::default()))
                .merge(Toml::string(r#"algorithm = "HS512""#))
                .extract();
        let error = parsed.expect_err("HS512 is not one of ours").to_string();
        assert!(error.contains("HS512"), "{error}");
    }

    #[test]
    fn debug_output_carries_no_secret() {
        let settings = AuthSettings {
            jwt_secret: Some("a-very-secret-value-of-forty-bytes-long!".into()),
            ..AuthSettings::default()
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("a-very-secret"), "{shown}");
    }
}
