//! The user-service's settings: the kit's shared sections plus `[cache]`
//! (`store::cache`) and `[process]` (`process::shedding`). Every key, its default and
//! its environment variable are documented in `kit::config` (and in those two modules)
//! and repeated in `config/base.toml`.

use serde::{Deserialize, Serialize};

use crate::process::shedding::ProcessSettings;
use crate::store::cache::CacheSettings;
use kit::config::{
    AuthSettings, ConfigError, DatabaseSettings, LogSettings, ServerSettings, Validate,
};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub cache: CacheSettings,
    pub process: ProcessSettings,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.database.validate()?;
        if self.cache.enabled && (self.cache.max_entries == 0 || self.cache.ttl_secs == 0) {
            return Err(ConfigError::Value {
                key: "cache.max_entries",
                problem: "and cache.ttl_secs must be at least 1 when the cache is enabled".into(),
            });
        }
        self.auth.validate()
    }
}

kit::service_settings!(Settings);

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};

    use super::Settings;

    /// `config/base.toml` documents the defaults; it must say what the code does.
    #[test]
    fn base_toml_repeats_the_code_defaults() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/base.toml");
        let from_file: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::file(&base))
            .extract()
            .expect("config/base.toml is valid");
        assert_eq!(from_file, Settings::default());
        let only_file: Settings = Figment::new()
            .merge(Toml::file(&base))
            .extract()
            .expect("base.toml alone is complete");
        assert_eq!(only_file, Settings::default());
    }
}
