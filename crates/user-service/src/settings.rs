//! The user-service's settings: the kit's shared sections, nothing of its own yet.
//! Every key, its default and its environment variable are documented in
//! `kit::config` and repeated in `config/base.toml`.

use serde::{Deserialize, Serialize};

use kit::config::{
    self, AuthSettings, ConfigError, DatabaseSettings, Environment, LogSettings, ServerSettings,
    Validate,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.database.validate()?;
        self.auth.validate()
    }
}

impl Settings {
    /// Every layer: files in the config directory, `APP_*`, the plain variables.
    pub fn load() -> Result<(Settings, Environment), ConfigError> {
        let environment = Environment::from_env()?;
        let settings = config::load(&config::config_dir(), environment)?;
        Ok((settings, environment))
    }
}
