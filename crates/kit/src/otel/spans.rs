//! Spans named and attributed by OpenTelemetry's semantic conventions (HTTP server spans
//! and database client spans, semconv 1.3x stable names). Created only while
//! [`super::is_active`]: the fields are formatted by every interested layer.

use actix_web::dev::ServiceRequest;
use actix_web::http::{StatusCode, Version};
use opentelemetry::trace::TraceContextExt;
use tracing::Span;
use tracing::field::Empty;
use tracing_opentelemetry::OpenTelemetrySpanExt;

fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// `server.address` and `server.port` from the `Host` header, as the conventions ask for
/// a server span; the port defaults to 80 (the service speaks plain HTTP).
fn server_address(request: &ServiceRequest) -> (&str, u16) {
    let host = request
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    // `[::1]` is an address without a port; `[::1]:8080` and `localhost:8080` have one.
    match host.rsplit_once(':') {
        Some((address, port)) if !host.ends_with(']') => (address, port.parse().unwrap_or(80)),
        _ => (host, 80),
    }
}

/// The request span, kind server, child of the caller's `traceparent` when it sends one.
/// Its name is the method until [`record_response`] knows the route. The middleware
/// records `request_id`; the JSON log lines get `trace_id` from `telemetry::request_context`.
pub(crate) fn request_span(request: &ServiceRequest, method: &'static str) -> Span {
    let (address, port) = server_address(request);
    let span = tracing::info_span!(
        "http_request",
        method,
        request_id = Empty,
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = if method == "OTHER" { "_OTHER" } else { method },
        http.route = Empty,
        http.response.status_code = Empty,
        url.path = request.path(),
        url.scheme = "http",
        server.address = address,
        server.port = port,
        network.protocol.version = protocol_version(request.version()),
    );
    // Fails only when the OpenTelemetry layer is absent, and then there is nothing to link.
    let _ = span.set_parent(super::propagation::extract(request.headers()));
    span
}

/// The outcome on the request span: `{method} {route}` as its name (an unmatched request
/// keeps the bare method, as the conventions ask), the route, the status, and the error
/// status for a 5xx.
pub(crate) fn record_response(
    span: &Span,
    method: &'static str,
    route: Option<&str>,
    status: StatusCode,
) {
    let context = span.context();
    if let Some(route) = route {
        context.span().update_name(format!("{method} {route}"));
        span.record("http.route", route);
    }
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "error");
    }
}

/// The first word of a statement, upper-cased: `db.operation.name`.
fn operation(statement: &str) -> String {
    statement
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase()
}

/// The table after `FROM`, `INTO` or `UPDATE`: `db.collection.name`, when there is one.
fn collection(statement: &str) -> Option<&str> {
    let mut words = statement.split_whitespace();
    while let Some(word) = words.next() {
        if ["FROM", "INTO", "UPDATE"]
            .iter()
            .any(|keyword| word.eq_ignore_ascii_case(keyword))
        {
            return words
                .next()
                .map(|name| name.trim_matches(|c: char| !c.is_alphanumeric() && c != '_'));
        }
    }
    None
}

/// A database client span for one statement: `db.query.text` is the statement with its
/// placeholders, never the parameter values. Named `{operation} {table}` (or
/// `{operation} {database}`), as the conventions ask.
pub(crate) fn statement_span(statement: &'static str, namespace: &str) -> Span {
    let operation = operation(statement);
    let collection = collection(statement);
    let name = format!("{operation} {}", collection.unwrap_or(namespace));
    tracing::info_span!(
        "db_statement",
        otel.name = name,
        otel.kind = "client",
        // `db.system` is the name before semconv 1.30 renamed it; both, so that older
        // and newer backends recognise the span.
        db.system = "postgresql",
        db.system.name = "postgresql",
        db.namespace = namespace,
        db.operation.name = operation,
        db.collection.name = collection,
        db.query.text = statement,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_and_table_come_from_the_statement() {
        let select = "SELECT id, email FROM users WHERE id = $1";
        assert_eq!(operation(select), "SELECT");
        assert_eq!(collection(select), Some("users"));
        assert_eq!(
            collection("insert into users (id) values ($1)"),
            Some("users")
        );
        assert_eq!(collection("UPDATE users SET email = $2"), Some("users"));
        assert_eq!(collection("SELECT 1"), None);
    }
}
