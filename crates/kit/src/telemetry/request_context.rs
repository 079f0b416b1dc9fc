//! The request's fields on each JSON log line, taken from the task's context rather than
//! from a span the layer would have to format for every request.
//!
//! [`WithRequestContext`] wraps tracing-subscriber's JSON event format: while a request is
//! served (the request telemetry middleware's task-local is set) it adds the fields of
//! [`write_context_fields`] to the line, with the names they had when the layer formatted
//! the request span: `"span":{"method":..,"request_id":..,"name":"http_request"}`.

use std::cell::RefCell;
use std::fmt;

use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::http::request_id::{RequestScope, current_scope};

/// A JSON event format `F` plus the request's fields (see the module).
pub struct WithRequestContext<F>(pub F);

thread_local! {
    /// The line before the request's fields go in; reused, so a printed line allocates
    /// only while the buffer grows.
    static LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// The request fields of a JSON line, written just before its closing brace.
///
/// To add context (an OpenTelemetry `trace_id`), write more `,"name":value` members here.
/// Neither value needs JSON escaping: a request id is `[A-Za-z0-9._-]` or a UUID
/// (`request_id::is_acceptable`), the method one of `observe::method_label`'s names.
pub fn write_context_fields(line: &mut impl fmt::Write, scope: &RequestScope) -> fmt::Result {
    write!(
        line,
        r#","span":{{"method":"{}","request_id":"{}","name":"http_request""#,
        scope.method, scope.id
    )?;
    // A trace id is 32 hex digits: no escaping either.
    #[cfg(feature = "otel")]
    if let Some(trace_id) = crate::otel::current_trace_id() {
        write!(line, r#","trace_id":"{trace_id}""#)?;
    }
    line.write_str("}")
}

impl<S, N, F> FormatEvent<S, N> for WithRequestContext<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // A span this layer sees puts its own `span` member on the line; one per line.
        let scope = match context.lookup_current() {
            None => current_scope(),
            Some(_) => None,
        };
        let Some(scope) = scope else {
            return self.0.format_event(context, writer, event);
        };
        LINE.with(|line| {
            // Logging from inside a formatter would find the buffer taken: use a new one.
            let mut reused = line.try_borrow_mut().ok();
            let mut fresh = String::new();
            let line = match reused.as_deref_mut() {
                Some(line) => line,
                None => &mut fresh,
            };
            line.clear();
            self.0.format_event(context, Writer::new(line), event)?;
            let closing = line.rfind('}').ok_or(fmt::Error)?;
            writer.write_str(&line[..closing])?;
            write_context_fields(&mut writer, &scope)?;
            writer.write_str(&line[closing..])
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::{App, HttpResponse, test, web};
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::layer::SubscriberExt;

    use crate::http::request_telemetry::RequestTelemetry;

    /// The JSON layer's real output, captured.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .expect("no test thread panics holding it")
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<serde_json::Value> {
            let bytes = self
                .0
                .lock()
                .expect("no test thread panics holding it")
                .clone();
            String::from_utf8(bytes)
                .expect("log lines are UTF-8")
                .lines()
                .map(|line| serde_json::from_str(line).expect("each log line is one JSON object"))
                .collect()
        }
    }

    async fn warns() -> HttpResponse {
        // The fmt layer is the only layer: it does not want the request span.
        assert!(tracing::Span::current().is_disabled());
        tracing::warn!(reason = "test", "handler warns");
        tracing::debug!("below the filter");
        HttpResponse::Ok().finish()
    }

    async fn fails() -> HttpResponse {
        HttpResponse::InternalServerError().finish()
    }

    #[actix_web::test]
    async fn lines_logged_during_a_request_carry_its_id_and_method() {
        let captured = Captured::default();
        let writer = captured.clone();
        let layer =
            crate::telemetry::log_layer(true, EnvFilter::new("info"), move || writer.clone());
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
        let app = test::init_service(
            App::new()
                .route("/warns", web::get().to(warns))
                .route("/fails", web::post().to(fails))
                .wrap(RequestTelemetry),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/warns")
            .insert_header(("x-request-id", "caller-id.1"))
            .to_request();
        let warned = test::call_service(&app, request).await;
        assert_eq!(warned.headers().get("x-request-id").unwrap(), "caller-id.1");
        let request = test::TestRequest::post().uri("/fails").to_request();
        let failed = test::call_service(&app, request).await;
        let fresh_id = failed
            .headers()
            .get("x-request-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        tracing::info!("outside any request");

        let lines = captured.lines();
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["message"], "handler warns");
        assert_eq!(lines[0]["reason"], "test");
        assert_eq!(lines[0]["target"], module_path!());
        let span = serde_json::json!({"method": "GET", "request_id": "caller-id.1", "name": "http_request"});
        assert_eq!(lines[0]["span"], span);
        assert_eq!(lines[1]["level"], "ERROR");
        assert_eq!(lines[1]["route"], "/fails");
        assert_eq!(lines[1]["status"], 500);
        let span =
            serde_json::json!({"method": "POST", "request_id": fresh_id, "name": "http_request"});
        assert_eq!(lines[1]["span"], span);
        assert_eq!(lines[2]["message"], "outside any request");
        assert!(lines[2].get("span").is_none(), "{:?}", lines[2]);
    }
}
