//! The tracer provider: OTLP/HTTP with protobuf bodies, batched, configured from the
//! standard `OTEL_*` variables.

use std::sync::atomic::Ordering;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::registry::LookupSpan;

/// Why the exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: the OTLP exporter cannot be built ({0})")]
pub struct OtelError(#[from] opentelemetry_otlp::ExporterBuildError);

/// The installed exporter; [`Exporter::shutdown`] sends the spans still queued.
pub struct Exporter {
    provider: SdkTracerProvider,
}

/// Whether the environment asks for export: an endpoint, and the SDK not disabled.
fn configured() -> bool {
    let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
    let disabled = std::env::var("OTEL_SDK_DISABLED")
        .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"));
    !disabled && (set("OTEL_EXPORTER_OTLP_ENDPOINT") || set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
}

impl Exporter {
    /// The exporter and its `tracing` layer, or `None` when no endpoint is configured.
    /// Installs the W3C trace-context propagator globally.
    pub fn from_env<S>() -> Result<Option<(Exporter, impl tracing_subscriber::Layer<S>)>, OtelError>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        if !configured() {
            return Ok(None);
        }
        // Endpoint, headers and timeout come from the OTEL_EXPORTER_OTLP_* variables.
        let span_exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()?;
        // The resource reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, the sampler
        // OTEL_TRACES_SAMPLER(_ARG), the batch processor OTEL_BSP_*.
        let provider = SdkTracerProvider::builder()
            .with_resource(Resource::builder().build())
            .with_batch_exporter(span_exporter)
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        let layer = tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("kit"))
            // Thread ids and source locations on every span cost more than they tell.
            .with_threads(false)
            .with_location(false)
            .with_tracked_inactivity(false);
        super::ACTIVE.store(true, Ordering::Relaxed);
        Ok(Some((Exporter { provider }, layer)))
    }

    /// Exports the spans still queued and stops, waiting at most `within` (the SIGTERM
    /// drain calls it last). Blocks the calling thread: the batch processor exports from
    /// its own thread.
    pub fn shutdown(&self, within: Duration) {
        super::ACTIVE.store(false, Ordering::Relaxed);
        if let Err(error) = self.provider.shutdown_with_timeout(within) {
            tracing::warn!(%error, "exporting the last spans failed");
        }
    }
}
