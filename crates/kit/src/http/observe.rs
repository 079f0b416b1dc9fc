//! One span per request, and the request metrics (driven by `super::request_telemetry`).
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

use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use futures_util::future::Either;
use pin_project_lite::pin_project;
use tracing::Instrument;
use tracing::instrument::Instrumented;

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

/// One request being observed: from its start, its span, its latency and its place in
/// the in-flight gauge; [`Observation::observe`] wraps the request's future.
pub(crate) struct Observation {
    started: Instant,
    _in_flight: InFlight,
    method: &'static str,
    span: tracing::Span,
}

impl Observation {
    pub(crate) fn start(request: &ServiceRequest, method: &'static str, id: &RequestId) -> Self {
        let started = Instant::now();
        let in_flight = InFlight::enter();
        // Only what is known now goes on the span, and only when some layer wants the
        // span (a disabled span records nothing). The outcome goes on the closing event.
        let span = request_span(request, method);
        if !span.is_disabled() {
            span.record("request_id", id.as_str());
        }
        Observation {
            started,
            _in_flight: in_flight,
            method,
            span,
        }
    }

    /// `response` polled inside the span, when a layer wants the span; a disabled span is
    /// not entered at all (`Instrumented` would enter and leave it on every poll).
    pub(crate) fn observe<F>(self, response: F) -> Observed<F> {
        let response = if self.span.is_disabled() {
            Either::Right(response)
        } else {
            Either::Left(response.instrument(self.span.clone()))
        };
        Observed {
            response,
            observation: self,
        }
    }

    /// The closing event and the latency histogram.
    fn finish(&self, response: &ServiceResponse<impl MessageBody>) {
        let elapsed = self.started.elapsed();
        let route = response
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let status = response.status();
        #[cfg(feature = "otel")]
        if crate::otel::is_active() {
            // Patterns start with `/`: "unmatched" is never a route.
            let matched = (route != "unmatched").then_some(route.as_str());
            crate::otel::spans::record_response(&self.span, self.method, matched, status);
        }
        let close = || {
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
        };
        if self.span.is_disabled() {
            close();
        } else {
            self.span.in_scope(close);
        }
        super::request_duration::record(self.method, &route, status, elapsed.as_secs_f64());
    }
}

pin_project! {
    /// A request's future under observation: when it answers, the closing event and the
    /// histogram; when it is dropped, the in-flight gauge goes down.
    pub struct Observed<F> {
        #[pin]
        response: Either<Instrumented<F>, F>,
        observation: Observation,
    }
}

impl<F, B> Future for Observed<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.response.poll(context));
        // An `Err` is not a response (no middleware of ours returns one): nothing to observe.
        if let Ok(response) = &result {
            this.observation.finish(response);
        }
        Poll::Ready(result)
    }
}
