//! Logging with `tracing`, and (feature `otel`) traces over OTLP.
//!
//! Settings (`[log]`): `filter`, an `EnvFilter` directive (`RUST_LOG` wins when set), and
//! `format`: `json` (one object per line, for production log pipelines), `pretty` (for a
//! person at a terminal) or `auto` (pretty when standard output is a terminal, JSON
//! otherwise). Events carry the fields of their spans, among them the request id, and
//! with traces exported the trace id.
//!
//! Traces: with the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` set, the request and
//! database spans are exported too ([`crate::otel`]); the log filter does not apply to
//! them. With the `console` feature, tokio-console's layer is added (`docs/observability.md`).

use std::io::IsTerminal;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid configuration: `log.filter` is not a valid filter ({0})")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[cfg(feature = "otel")]
    #[error(transparent)]
    Otel(#[from] crate::otel::OtelError),
}

/// Held for the life of the service: [`TelemetryGuard::shutdown`] (or dropping it) sends
/// the spans still queued, so the SIGTERM drain ends with it.
#[must_use = "dropping the guard stops the trace export"]
pub struct TelemetryGuard {
    #[cfg(feature = "otel")]
    exporter: Option<crate::otel::Exporter>,
}

/// How long the last export may take when the guard is dropped without
/// [`TelemetryGuard::shutdown`].
const DEFAULT_FLUSH: Duration = Duration::from_secs(5);

impl TelemetryGuard {
    /// Exports the spans still queued, waiting at most `within`; then export stops.
    /// Blocking: call it last, after the server has drained.
    pub fn shutdown(mut self, within: Duration) {
        self.flush(within);
    }

    fn flush(&mut self, within: Duration) {
        #[cfg(feature = "otel")]
        if let Some(exporter) = self.exporter.take() {
            exporter.shutdown(within);
        }
        let _ = within;
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.flush(DEFAULT_FLUSH);
    }
}

/// Installs the global subscriber. A second call (tests build many apps) keeps the first,
/// and its guard does nothing.
pub fn init(settings: &LogSettings) -> Result<TelemetryGuard, TelemetryError> {
    let filter = match EnvFilter::try_from_default_env() {
        Ok(filter) => filter,
        Err(_) => EnvFilter::try_new(&settings.filter)?,
    };
    let json = match settings.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stdout().is_terminal(),
    };
    #[cfg(any(feature = "otel", feature = "console"))]
    if let Some(guard) = layered::init(filter.clone(), json)? {
        return Ok(guard);
    }
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
    Ok(TelemetryGuard {
        #[cfg(feature = "otel")]
        exporter: None,
    })
}

/// The subscriber with the optional layers. Used only when one of them is on, so that
/// the plain subscriber above (a global filter, the cheapest) stays the default.
#[cfg(any(feature = "otel", feature = "console"))]
mod layered {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{EnvFilter, Layer};

    use super::{TelemetryError, TelemetryGuard};

    /// `None` when no optional layer is configured.
    pub(super) fn init(
        filter: EnvFilter,
        json: bool,
    ) -> Result<Option<TelemetryGuard>, TelemetryError> {
        #[cfg(feature = "otel")]
        let otel = crate::otel::Exporter::from_env()?;
        #[cfg(not(feature = "otel"))]
        let otel: Option<((), tracing_subscriber::layer::Identity)> = None;
        let console = cfg!(feature = "console");
        if otel.is_none() && !console {
            return Ok(None);
        }
        let (exporter, otel_layer) = otel.unzip();
        // The log filter is the fmt layer's own: the other layers see every span.
        let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stdout);
        let fmt = if json {
            fmt.json()
                .with_current_span(true)
                .with_span_list(false)
                .flatten_event(true)
                .with_filter(filter)
                .boxed()
        } else {
            fmt.pretty().with_filter(filter).boxed()
        };
        // Spans at `info` and above, from every crate but the drivers and HTTP clients
        // (their events would attach to our spans; the exporter's own client's would
        // feed back into the export).
        let quiet = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::Level::INFO)
            .with_targets(
                [
                    "sqlx",
                    "tokio_postgres",
                    "hyper",
                    "hyper_util",
                    "reqwest",
                    "h2",
                ]
                .map(|target| (target, tracing::Level::WARN)),
            );
        let registry = tracing_subscriber::registry()
            .with(fmt)
            .with(otel_layer.with_filter(quiet));
        #[cfg(feature = "console")]
        let registry = registry.with(console_subscriber::spawn());
        // An error here only means a subscriber is already installed.
        let _ = registry.try_init();
        #[cfg(not(feature = "otel"))]
        let _ = exporter;
        Ok(Some(TelemetryGuard {
            #[cfg(feature = "otel")]
            exporter,
        }))
    }
}
