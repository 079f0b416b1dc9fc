//! The span of one database statement, for the traces of the `otel` feature.
//!
//! Without the feature, or while no exporter is configured, it is [`Span::none`]:
//! instrumenting a call with it costs nothing measurable.

use tracing::Span;

/// The client span of `statement` against database `namespace` (semantic conventions in
/// `otel::spans`); the caller instruments the call with it.
pub fn client_span(statement: &'static str, namespace: &str) -> Span {
    #[cfg(feature = "otel")]
    if crate::otel::is_active() {
        return crate::otel::spans::statement_span(statement, namespace);
    }
    let _ = (statement, namespace);
    Span::none()
}
