//! The checks of the shared settings that their types cannot express.

use super::{
    AuthSettings, ConfigError, DatabaseSettings, MIN_SECRET_BYTES, ServerSettings, Validate,
};

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
