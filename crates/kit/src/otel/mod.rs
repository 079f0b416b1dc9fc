//! OpenTelemetry (feature `otel`): the request and database spans exported over OTLP,
//! W3C trace context in and out, the trace id in the logs.
//!
//! Off unless configured: nothing is set up, and no span of this module is created, until
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set and
//! `OTEL_SDK_DISABLED` is not `true`. The SDK reads the other standard variables itself:
//! `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`,
//! `OTEL_BSP_SCHEDULE_DELAY` and the other batch settings, `OTEL_EXPORTER_OTLP_HEADERS`.
//! When off, the cost on a request is one relaxed atomic load ([`is_active`]).
//!
//! Spans follow OpenTelemetry's semantic conventions: the request span of
//! [`crate::http::observe`] ([`spans::request_span`]) and the database client spans of
//! [`crate::db::client_span`].

mod exporter;
mod propagation;
pub(crate) mod spans;

use std::sync::atomic::{AtomicBool, Ordering};

pub use exporter::{Exporter, OtelError};
pub use propagation::inject;

/// Set once the exporter is installed; read on every request.
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (an endpoint is configured and the exporter is installed).
pub fn is_active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// The current span's trace id in hex, when spans are exported and there is one.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    if !is_active() {
        return None;
    }
    let context = tracing::Span::current().context();
    let span_context = context.span().span_context().clone();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}
