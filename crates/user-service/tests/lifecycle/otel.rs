//! OpenTelemetry end to end: the real binary (feature `otel`) exports to an OTLP/HTTP
//! receiver written here, which decodes the protobuf bodies with the protocol's own types.
//! One `GET /users/{id}` sent with a `traceparent`: its server span and its database span
//! reach the receiver, with the caller's trace id and parent, the semantic conventions'
//! names and attributes; its log line carries the trace id; and they are sent by the
//! SIGTERM drain, not by the batch timer (set to a minute).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use nix::sys::signal::Signal;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message;

use crate::running::{JWT_SECRET, RunningService, create_user};

/// A span as received, with its service's name.
#[derive(Clone, Debug)]
struct Received {
    service: String,
    span: Span,
}

/// What the receiver has decoded so far.
type Store = Arc<Mutex<Vec<Received>>>;

fn string_attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|attribute| attribute.key == key)
        .and_then(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                any_value::Value::StringValue(value) => Some(value.clone()),
                any_value::Value::IntValue(value) => Some(value.to_string()),
                _ => None,
            },
        )
}

async fn receive(body: web::Bytes, store: web::Data<Store>) -> HttpResponse {
    let request = match ExportTraceServiceRequest::decode(body) {
        Ok(request) => request,
        Err(error) => return HttpResponse::BadRequest().body(error.to_string()),
    };
    let mut received = store.lock().expect("the receiver's lock is not poisoned");
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .as_ref()
            .and_then(|resource| string_attribute(&resource.attributes, "service.name"))
            .unwrap_or_default();
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                received.push(Received {
                    service: service.clone(),
                    span,
                });
            }
        }
    }
    // An empty ExportTraceServiceResponse encodes to no bytes.
    HttpResponse::Ok()
        .content_type("application/x-protobuf")
        .finish()
}

/// Starts the receiver on a free loopback port; returns its base URL and what it gets.
fn start_receiver() -> (String, Store) {
    let store: Store = Arc::default();
    let data = web::Data::new(store.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .route("/v1/traces", web::post().to(receive))
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .expect("binding the receiver on loopback");
    let port = server.addrs()[0].port();
    tokio::spawn(server.run());
    (format!("http://127.0.0.1:{port}"), store)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// The request's server span: the service's name, the route, the caller as parent, and
/// the semantic conventions' HTTP attributes.
fn check_server_span(server: &Received, id: &str, port: u16) {
    assert_eq!(
        server.service, "users-under-test",
        "OTEL_SERVICE_NAME names the service"
    );
    assert_eq!(server.span.name, "GET /users/{id}");
    assert_eq!(
        hex(&server.span.parent_span_id),
        CALLER_SPAN_ID,
        "the request span's parent is the caller's span"
    );
    let attributes = &server.span.attributes;
    let attribute = |key| string_attribute(attributes, key);
    assert_eq!(attribute("http.request.method").as_deref(), Some("GET"));
    assert_eq!(attribute("http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(attribute("url.path"), Some(format!("/users/{id}")));
    assert_eq!(
        attribute("http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attribute("server.address").as_deref(), Some("127.0.0.1"));
    assert_eq!(attribute("server.port"), Some(port.to_string()));
    assert_eq!(
        attribute("network.protocol.version").as_deref(),
        Some("1.1")
    );
}

/// The database span: a child of the request span, with the semantic conventions'
/// database attributes and the statement's text.
fn check_database_span(database: &Received, server: &Received, database_name: String) {
    assert_eq!(
        database.span.parent_span_id, server.span.span_id,
        "the database span is a child of the request span"
    );
    assert_eq!(database.span.name, "SELECT users");
    let attributes = &database.span.attributes;
    let attribute = |key| string_attribute(attributes, key);
    assert_eq!(attribute("db.system.name").as_deref(), Some("postgresql"));
    assert_eq!(attribute("db.system").as_deref(), Some("postgresql"));
    assert_eq!(attribute("db.namespace"), Some(database_name));
    assert_eq!(attribute("db.operation.name").as_deref(), Some("SELECT"));
    assert_eq!(attribute("db.collection.name").as_deref(), Some("users"));
    assert_eq!(
        attribute("db.query.text").as_deref(),
        Some(user_service::store::users::READ_STATEMENTS[0]),
        "the statement's text, with its placeholder and no value"
    );
}

/// The request's JSON log line carries its trace id.
fn check_log_line(logs: &str) {
    let line = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["message"] == "request completed" && line["route"] == "/users/{id}")
        .unwrap_or_else(|| panic!("no JSON line for the GET:\n{logs}"));
    assert_eq!(
        line["span"]["trace_id"], TRACE_ID,
        "the request's log line carries its trace id: {line}"
    );
}

#[tokio::test]
async fn a_traced_get_reaches_the_receiver_with_its_database_span_on_sigterm() {
    let (endpoint, received) = start_receiver();
    let directory = tempfile::tempdir().expect("a temporary directory");
    let database_url = kit::db::testing::fresh_database(&user_service::store::MIGRATOR).await;
    let database_name = database_url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .expect("the test database URL parses")
        .get_database()
        .expect("the test database URL names its database")
        .to_owned();
    let env = [
        ("DATABASE_URL", database_url.clone()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint),
        ("OTEL_SERVICE_NAME", "users-under-test".to_owned()),
        // Nothing leaves on the timer: what arrives was sent by the drain.
        ("OTEL_BSP_SCHEDULE_DELAY", "60000".to_owned()),
        // The finished request's line, printed inside its span.
        ("RUST_LOG", "info,kit::http=debug".to_owned()),
        ("APP_SERVER__DRAIN_GRACE_MS", "100".to_owned()),
    ];
    let mut service = RunningService::start(directory.path(), &env).await;
    let client = reqwest::Client::new();
    let id = create_user(&client, &service).await;
    let response = client
        .get(service.url(&format!("/users/{id}")))
        .bearer_auth(crate::running::token("users:read"))
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))
        .send()
        .await
        .expect("the service answers");
    assert_eq!(response.status(), 200, "reading the user back");
    assert!(
        received.lock().expect("not poisoned").is_empty(),
        "spans were exported before the drain, though the batch delay is a minute"
    );

    service.signal(Signal::SIGTERM);
    let status = service.wait_exit(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "the drain exits 0: {status}\n{}",
        service.logs()
    );

    let spans = received.lock().expect("not poisoned").clone();
    let in_trace: Vec<&Received> = spans
        .iter()
        .filter(|received| hex(&received.span.trace_id) == TRACE_ID)
        .collect();
    let server = in_trace
        .iter()
        .find(|received| received.span.kind == SpanKind::Server as i32)
        .unwrap_or_else(|| panic!("no server span in the caller's trace; received: {spans:#?}"));
    check_server_span(server, &id, service.port);

    let database = in_trace
        .iter()
        .find(|received| received.span.kind == SpanKind::Client as i32)
        .unwrap_or_else(|| panic!("no database span in the caller's trace; received: {spans:#?}"));
    check_database_span(database, server, database_name);
    check_log_line(&service.logs());
}
