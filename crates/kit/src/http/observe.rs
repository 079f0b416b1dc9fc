//! One span per request, and the request metrics.
//!
//! The span `http_request` carries `method` and `request_id`, for layers that want it
//! (an OpenTelemetry exporter). The log lines do not need it: the formatter takes the
//! request id and method from the request's task-local (`crate::telemetry::request_context`)
//! and does not subscribe to the span, so with no other layer the span is disabled at its
//! callsite and costs a cached check. The event that closes a request adds `route` (the template, never the
//! raw path: paths hold ids and would explode log indexes and metric series), `status`
//! and `latency_ms`. A finished request is logged at `debug` (an access log at 50,000
//! requests/s costs more than the request), a 500 at `error` and other 5xx at `warn`, so
//! the default `info` filter shows failures only.

use std::sync::LazyLock;
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use tracing::Instrument;

use super::request_id::RequestId;

/// Registered once: every request moves it twice.
static IN_FLIGHT: LazyLock<metrics::Gauge> =
    LazyLock::new(|| crate::metrics::gauge("http_requests_in_flight"));

/// Decrements the in-flight gauge however the request ends (a client that disconnects
/// drops the future mid-way).
struct InFlight;

impl InFlight {
    fn enter() -> Self {
        IN_FLIGHT.increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.decrement(1.0);
    }
}

pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The request's span: with spans exported (feature `otel`), the semantic conventions'
/// server span joined to the caller's trace; otherwise the plain span.
fn request_span(request: &ServiceRequest, method: &'static str) -> tracing::Span {
    #[cfg(feature = "otel")]
    if crate::otel::is_active() {
        return crate::otel::spans::request_span(request, method);
    }
    let _ = request;
    tracing::info_span!("http_request", method, request_id = tracing::field::Empty)
}

/// Middleware: span, latency histogram, in-flight gauge.
pub async fn middleware(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let _in_flight = InFlight::enter();
    let method = method_label(request.method());
    // Only what is known now goes on the span, and only when some layer wants the span
    // (a disabled span records nothing, so the id is not even looked up). The outcome
    // goes on the closing event, not the span.
    let span = request_span(&request, method);
    if !span.is_disabled()
        && let Some(request_id) = request.extensions().get::<RequestId>()
    {
        span.record("request_id", request_id.as_str());
    }
    let response = next.call(request).instrument(span.clone()).await?;
    let elapsed = started.elapsed();
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status();
    #[cfg(feature = "otel")]
    if crate::otel::is_active() {
        // Patterns start with `/`: "unmatched" is never a route.
        let matched = (route != "unmatched").then_some(route.as_str());
        crate::otel::spans::record_response(&span, method, matched, status);
    }
    span.in_scope(|| {
        let (route, status, latency_ms) = (
            route.as_str(),
            status.as_u16(),
            elapsed.as_secs_f64() * 1000.0,
        );
        if status == 500 {
            tracing::error!(route, status, latency_ms, "request failed");
        } else if status >= 500 {
            // 503s come in floods while a dependency is down; the cause is logged once
            // where it is detected.
            tracing::warn!(route, status, latency_ms, "request answered unavailable");
        } else {
            tracing::debug!(route, status, latency_ms, "request completed");
        }
    });
    super::request_duration::record(method, &route, status, elapsed.as_secs_f64());
    Ok(response)
}
