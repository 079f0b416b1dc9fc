//! Logging with `tracing`.
//!
//! Settings (`[log]`): `filter`, an `EnvFilter` directive (`RUST_LOG` wins when set), and
//! `format`: `json` (one object per line, for production log pipelines), `pretty` (for a
//! person at a terminal) or `auto` (pretty when standard output is a terminal, JSON
//! otherwise). Every line printed while a request is served carries its request id and
//! method (`span.request_id`, `span.method`).
//!
//! The JSON layer does not subscribe to the per-request `http_request` span: it takes the
//! request's fields from the task-local the request telemetry middleware sets
//! ([`request_context`]). Formatting the span's fields at its creation, for every request,
//! cost most of what request telemetry cost, though at the shipped `info` filter nothing
//! printed them. A layer that wants the span (tracing or OpenTelemetry) still gets it; a
//! span-name directive in the filter (`[http_request]=debug`) does not apply to JSON lines.
//! The pretty layer, for a person, sees the span as before.

pub mod request_context;

use std::io::IsTerminal;

use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt, LevelFilter, Targets, filter_fn};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

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
/// the spans still queued (feature `otel`), so the SIGTERM drain ends with it.
#[must_use = "dropping the guard stops the trace export"]
pub struct TelemetryGuard {
    #[cfg(feature = "otel")]
    exporter: Option<crate::otel::Exporter>,
}

/// How long the last export may take when the guard is dropped without
/// [`TelemetryGuard::shutdown`].
const DEFAULT_FLUSH: std::time::Duration = std::time::Duration::from_secs(5);

impl TelemetryGuard {
    /// Exports the spans still queued, waiting at most `within`; then export stops.
    /// Blocking: call it last, after the server has drained.
    pub fn shutdown(mut self, within: std::time::Duration) {
        self.flush(within);
    }

    fn flush(&mut self, within: std::time::Duration) {
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

/// Spans at `info` and above for the exporting layers, from every crate but the drivers
/// and HTTP clients (their events would attach to our spans; the exporter's own client's
/// would feed back into the export). The log filter does not apply to them.
#[cfg(feature = "otel")]
fn exported_spans() -> Targets {
    Targets::new()
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
        )
}

/// Installs the global subscriber: the log layer, and with the `otel` feature and
/// `OTEL_EXPORTER_OTLP_ENDPOINT` set the span exporter (`crate::otel`), with the
/// `console` feature tokio-console's layer (`docs/observability.md`). A second call (tests
/// build many apps) keeps the first, and its guard does nothing.
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
    // Without an exporter the slot holds no layer behind a filter that wants nothing. A
    // bare `None` layer would say it is interested in every callsite, and the registry
    // would then create (and enter, exit, close) the request span that no layer prints:
    // 3.3k instructions per request (`scripts/profile-read-path.sh`).
    #[cfg(feature = "otel")]
    let (exporter, exported) = match crate::otel::Exporter::from_env()? {
        Some((exporter, layer)) => (Some(exporter), Some(layer).with_filter(exported_spans())),
        None => (None, None.with_filter(Targets::new())),
    };
    #[cfg(not(feature = "otel"))]
    let exported = None::<tracing_subscriber::layer::Identity>.with_filter(Targets::new());
    let registry = tracing_subscriber::registry()
        .with(log_layer(json, filter, std::io::stdout))
        .with(exported);
    #[cfg(feature = "console")]
    let registry = registry.with(console_subscriber::spawn());
    // An error here only means a subscriber is already installed.
    let _ = registry.try_init();
    Ok(TelemetryGuard {
        #[cfg(feature = "otel")]
        exporter,
    })
}

/// The layer that prints log lines: JSON (request fields from the task's context, see
/// [`request_context`]) or pretty, filtered by `filter`, written to `writer`.
pub fn log_layer<S, W>(json: bool, filter: EnvFilter, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer = tracing_subscriber::fmt::layer().with_writer(writer);
    if json {
        let format = tracing_subscriber::fmt::format()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true);
        // A filter that only takes away says so: it enables up to TRACE. Without that
        // hint the pair's hint is none (`And` gives none when a side has none), then the
        // subscriber's is TRACE and so is the `log` bridge's level: every `log::trace!`
        // of tokio-postgres (six per point read) became an event that the filter refused
        // one by one, 3.7k instructions per read at any filter, `off` included.
        let all_but_the_request_span = filter_fn(|metadata| !is_request_span(metadata))
            .with_max_level_hint(LevelFilter::TRACE);
        layer
            .json()
            .event_format(request_context::WithRequestContext(format))
            .with_filter(filter.and(all_but_the_request_span))
            .boxed()
    } else {
        layer.pretty().with_filter(filter).boxed()
    }
}

/// The per-request span of `crate::http::observe`.
fn is_request_span(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.name() == "http_request"
}

#[cfg(test)]
mod tests {
    use tracing::Subscriber;
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    use tracing_subscriber::layer::SubscriberExt;

    /// The subscriber's level is what the `log` bridge lets through (`init` sets it from
    /// the subscriber's hint) and what every callsite checks first: it must be the
    /// filter's, not TRACE.
    #[test]
    fn the_subscriber_level_is_the_filter_level() {
        for json in [true, false] {
            for (directive, level) in [
                ("info", LevelFilter::INFO),
                ("off", LevelFilter::OFF),
                ("warn,sqlx=debug", LevelFilter::DEBUG),
            ] {
                let layer = super::log_layer(json, EnvFilter::new(directive), std::io::sink);
                let subscriber = tracing_subscriber::registry().with(layer);
                assert_eq!(
                    subscriber.max_level_hint(),
                    Some(level),
                    "{directive} (json: {json})"
                );
            }
        }
    }
}
