//! What the kit needs to know of a service's settings struct.

use std::path::PathBuf;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{
    AuthSettings, ConfigError, DatabaseSettings, Environment, LogSettings, SHARED_VARIABLES,
    ServerSettings, Validate, config_dir, load_with,
};

/// A service's whole settings: the shared sections the kit reads, next to the service's
/// own (the user-service's `[cache]`, the notes example's `[notes]`). The struct keeps
/// `deny_unknown_fields` and names its sections; this trait tells the kit where the
/// shared ones are. `auth` is `None` for a service without bearer tokens.
pub trait ServiceSettings:
    Serialize + DeserializeOwned + Default + Validate + Send + Sync + 'static
{
    fn server(&self) -> &ServerSettings;
    fn database(&self) -> &DatabaseSettings;
    fn log(&self) -> &LogSettings;
    fn auth(&self) -> Option<&AuthSettings> {
        None
    }

    /// The plain variables (lower-case name, key): today's shared names by default.
    const VARIABLES: &'static [(&'static str, &'static str)] = SHARED_VARIABLES;

    /// Where to look for the configuration directory when `APP_CONFIG_DIR` is unset,
    /// relative to the working directory; the first that exists is read.
    const CONFIG_DIRS: &'static [&'static str] = &["config"];

    /// The configuration directory [`Self::load`] reads (`APP_CONFIG_DIR`, else the first
    /// of [`Self::CONFIG_DIRS`] that exists).
    fn config_dir() -> PathBuf {
        config_dir(Self::CONFIG_DIRS)
    }

    /// Every layer from [`Self::config_dir`] and `APP_ENV`, with [`Self::VARIABLES`].
    fn load() -> Result<(Self, Environment), ConfigError> {
        let environment = Environment::from_env()?;
        Ok((
            load_with(&Self::config_dir(), environment, Self::VARIABLES)?,
            environment,
        ))
    }
}

/// Implements [`ServiceSettings`] for a settings struct whose shared sections are the
/// fields `server`, `database`, `log` and `auth` (`service_settings!(Settings)`), or
/// `server`, `database` and `log` (`service_settings!(Settings, without auth)`).
#[macro_export]
macro_rules! service_settings {
    ($settings:ty) => {
        $crate::service_settings!(@shared $settings, fn auth(&self) -> Option<&$crate::config::AuthSettings> {
            Some(&self.auth)
        });
    };
    ($settings:ty, without auth) => {
        $crate::service_settings!(@shared $settings,);
    };
    (@shared $settings:ty, $($auth:item)?) => {
        impl $crate::config::ServiceSettings for $settings {
            fn server(&self) -> &$crate::config::ServerSettings {
                &self.server
            }
            fn database(&self) -> &$crate::config::DatabaseSettings {
                &self.database
            }
            fn log(&self) -> &$crate::config::LogSettings {
                &self.log
            }
            $($auth)?
        }
    };
}
