//! The user-service's settings: the kit's shared sections, two keys of its own in
//! `[database]` (`read_path`, `coalesce`), `[cache]` (`store::cache`) and `[process]`
//! (`process::shedding`). Every key, its default and its environment variable are
//! documented in `kit::config` (and here and in those two modules) and repeated in
//! `crates/user-service/config/base.toml`.

use serde::{Deserialize, Serialize};

use crate::process::shedding::ProcessSettings;
use crate::store::cache::CacheSettings;
use kit::config::{AuthSettings, ConfigError, LogSettings, ServerSettings, Validate};

/// `database.read_path`: how point reads reach PostgreSQL.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ReadPath {
    /// Few long-lived pipelined connections (`kit::db::pipelined`), plus the cache.
    #[default]
    Pipelined,
    /// The SQLx pool, one query per checked-out connection, and no cache.
    Pool,
}

/// `[database]`: the kit's keys (`shared`, in the same section: the TOML keys and the
/// `APP_DATABASE__*` variables are the same as a kit-only service's) plus the two only the
/// user-service reads. Written flattened, but read by hand (`database_section`), not with
/// `serde(flatten)`: a flattened struct is read from a buffer, and a wrong value of a kit
/// key would then be reported against `database`, not `database.pool_size`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(try_from = "figment::value::Dict")]
pub struct DatabaseSettings {
    #[serde(flatten)]
    pub shared: kit::config::DatabaseSettings,
    /// `pipelined` (the default): point reads over `read_connections`, with the cache.
    /// `pool`: the textbook design, every read through the SQLx pool, no pipelining, no
    /// cache; kept so that a lab can measure what the design is worth.
    pub read_path: ReadPath,
    /// Coalesce concurrent point reads (one `= ANY($1)` statement), creates (one multi-row
    /// insert), PATCHes and DELETEs while earlier statements are in flight
    /// (`kit::db::coalesce`). Off: one statement per request.
    pub coalesce: bool,
}

/// Takes the user-service's two keys out of the section and reads the rest as the kit's
/// (which refuses unknown keys); figment names the key of a wrong value.
fn database_section(mut section: figment::value::Dict) -> Result<DatabaseSettings, String> {
    let defaults = DatabaseSettings::default();
    let read_path = match section.remove("read_path") {
        Some(value) => value.deserialize().map_err(|e| naming("read_path", e))?,
        None => defaults.read_path,
    };
    let coalesce = match section.remove("coalesce") {
        Some(value) => value.deserialize().map_err(|e| naming("coalesce", e))?,
        None => defaults.coalesce,
    };
    let shared =
        figment::value::Value::from(section)
            .deserialize()
            .map_err(|e: figment::Error| {
                let key = e.path.join(".");
                naming(&key, e)
            })?;
    Ok(DatabaseSettings {
        shared,
        read_path,
        coalesce,
    })
}

/// The key in the message: figment, which names the section, only knows the value it read.
fn naming(key: &str, error: figment::Error) -> String {
    match key {
        "" => format!("`database`: {}", error.kind),
        key => format!("`database.{key}`: {}", error.kind),
    }
}

impl TryFrom<figment::value::Dict> for DatabaseSettings {
    type Error = String;
    fn try_from(section: figment::value::Dict) -> Result<Self, String> {
        database_section(section)
    }
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            shared: kit::config::DatabaseSettings::default(),
            read_path: ReadPath::Pipelined,
            coalesce: true,
        }
    }
}

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
        self.database.shared.validate()?;
        if self.cache.enabled && (self.cache.max_entries == 0 || self.cache.ttl_secs == 0) {
            return Err(ConfigError::Value {
                key: "cache.max_entries",
                problem: "and cache.ttl_secs must be at least 1 when the cache is enabled".into(),
            });
        }
        self.auth.validate()
    }
}

impl kit::config::ServiceSettings for Settings {
    /// From its crate (and in an image, with `APP_CONFIG_DIR`) `config/`; from the
    /// repository root, the crate's.
    const CONFIG_DIRS: &'static [&'static str] = &["config", "crates/user-service/config"];

    fn server(&self) -> &ServerSettings {
        &self.server
    }
    fn database(&self) -> &kit::config::DatabaseSettings {
        &self.database.shared
    }
    fn log(&self) -> &LogSettings {
        &self.log
    }
    fn auth(&self) -> Option<&AuthSettings> {
        Some(&self.auth)
    }
}

#[cfg(test)]
mod tests {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};

    use super::Settings;

    /// `config/base.toml` documents the defaults; it must say what the code does (the
    /// flattened `[database]` included: a key the kit dropped would be refused).
    #[test]
    fn base_toml_repeats_the_code_defaults() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/base.toml");
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

    /// `[database]` keeps one namespace: the user-service's two keys and the kit's are
    /// read side by side, and a misspelt key is still refused.
    #[test]
    fn database_keys_of_the_kit_and_the_service_share_the_section() {
        let read: Settings = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string(
                "[database]\nread_path = \"pool\"\ncoalesce = false\npool_size = 7",
            ))
            .extract()
            .expect("the three keys are known");
        assert_eq!(read.database.read_path, super::ReadPath::Pool);
        assert!(!read.database.coalesce);
        assert_eq!(read.database.shared.pool_size, 7);
        let misspelt: Result<Settings, _> =
            Figment::from(Serialized::defaults(Settings::default()))
                .merge(Toml::string("[database]\npool_sise = 7"))
                .extract();
        let error = misspelt.expect_err("pool_sise is no key").to_string();
        assert!(error.contains("pool_sise"), "{error}");
        let wrong: Result<Settings, _> = Figment::from(Serialized::defaults(Settings::default()))
            .merge(Toml::string("[database]\npool_size = \"many\""))
            .extract();
        let error = wrong.expect_err("many is no number").to_string();
        assert!(error.contains("database.pool_size"), "{error}");
    }
}
