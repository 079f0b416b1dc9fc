//! W3C trace context: read from a request's `traceparent`/`tracestate`, written into a
//! service's outgoing calls.

use actix_web::http::header::HeaderMap as ActixHeaders;
use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// actix-web's header map (the `http` 0.2 types) as a propagation carrier.
struct Incoming<'a>(&'a ActixHeaders);

impl Extractor for Incoming<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The remote parent a request names, if any (an invalid or absent `traceparent` gives
/// an empty context: the request starts a new trace).
pub(crate) fn extract(headers: &ActixHeaders) -> opentelemetry::Context {
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Incoming(headers))
    })
}

/// The `http` 1 header map (reqwest, hyper) as a propagation carrier.
struct Outgoing<'a>(&'a mut http::HeaderMap);

impl Injector for Outgoing<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(key.as_bytes()),
            http::header::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Writes the current span's trace context (`traceparent`, `tracestate`) into the headers
/// of an outgoing HTTP call, so that the called service's spans join this trace. Does
/// nothing when spans are not exported.
///
/// ```ignore
/// let mut headers = http::HeaderMap::new();
/// kit::otel::inject(&mut headers);
/// client.get(url).headers(headers).send().await?;
/// ```
pub fn inject(headers: &mut http::HeaderMap) {
    if !super::is_active() {
        return;
    }
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut Outgoing(headers))
    });
}
