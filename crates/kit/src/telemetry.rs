//! Logging with `tracing`.
//!
//! Settings (`[log]`): `filter`, an `EnvFilter` directive (`RUST_LOG` wins when set), and
//! `format`: `json` (one object per line, for production log pipelines), `pretty` (for a
//! person at a terminal) or `auto` (pretty when standard output is a terminal, JSON
//! otherwise). Events carry the fields of their spans, among them the request id.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: `log.filter` is not a valid filter ({0})")]
pub struct TelemetryError(#[from] tracing_subscriber::filter::ParseError);

/// Installs the global subscriber. A second call (tests build many apps) keeps the first.
pub fn init(settings: &LogSettings) -> Result<(), TelemetryError> {
    let filter = match EnvFilter::try_from_default_env() {
        Ok(filter) => filter,
        Err(_) => EnvFilter::try_new(&settings.filter)?,
    };
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    // An error here only means a subscriber is already installed.
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    } else {
        builder.pretty().try_init()
    };
    Ok(())
}
