//! `/health/live`, `/health/ready`, `/metrics`, `/openapi.json`.

use serde_json::{Value, json};

use crate::Target;
use crate::http::get;
use crate::tokens::rw;

pub async fn operations_health_live(target: &Target) {
    let reply = get(target, "/health/live").send().await;
    reply.assert_status(200);
    reply.request_id();
    if !reply.body.is_empty() {
        reply.assert_json_type();
        reply.json();
    }
}

pub async fn operations_health_ready(target: &Target) {
    let reply = get(target, "/health/ready").send().await;
    reply.assert_status(200).assert_json_type();
    reply.request_id();
    assert_eq!(
        reply.json(),
        json!({"status": "ready", "checks": {"database": "ok", "draining": false}}),
        "{}: readiness body",
        reply.context()
    );
}

pub async fn operations_metrics(target: &Target) {
    // Traffic on a templated route with a raw id, and a 404.
    let id = uuid::Uuid::new_v4().to_string();
    let reply = get(target, &format!("/users/{id}"))
        .bearer(&rw(target))
        .send()
        .await;
    reply.assert_status(404);
    let unmatched = format!("/nothing-here-{}", uuid::Uuid::new_v4().simple());
    get(target, &unmatched).send().await.assert_status(404);
    let reply = get(target, "/metrics").send().await;
    reply.assert_status(200);
    reply.request_id();
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "{}: Prometheus text format, got content type {content_type:?}",
        reply.context()
    );
    let text = reply.text();
    let ctx = format!("[{}] GET /metrics", target.name);
    for name in [
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
        "http_requests_in_flight",
        "db_pool_connections",
        "db_pool_idle_connections",
        "db_pool_acquire_wait_seconds",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ] {
        assert!(
            text.lines().any(|line| line.starts_with(name)),
            "{ctx}: metric {name} missing"
        );
    }
    assert!(
        text.contains("# TYPE http_request_duration_seconds histogram"),
        "{ctx}: http_request_duration_seconds is a histogram"
    );
    let samples: Vec<&str> = text
        .lines()
        .filter(|line| line.starts_with("http_request_duration_seconds_count{"))
        .collect();
    let has = |route: &str, status: &str| {
        samples.iter().any(|line| {
            line.contains(&format!("route=\"{route}\""))
                && line.contains(&format!("status=\"{status}\""))
                && line.contains("method=\"GET\"")
        })
    };
    assert!(
        has("/users/{id}", "404"),
        "{ctx}: a sample with method=\"GET\", route=\"/users/{{id}}\", status=\"404\"; samples: {samples:#?}"
    );
    assert!(
        has("unmatched", "404"),
        "{ctx}: a sample with route=\"unmatched\" for 404s; samples: {samples:#?}"
    );
    assert!(
        !text.contains(&id) && !text.contains(&unmatched),
        "{ctx}: raw paths must never be labels"
    );
}

pub async fn operations_openapi(target: &Target) {
    let reply = get(target, "/openapi.json").send().await;
    reply.assert_status(200).assert_json_type();
    let body = reply.json();
    let version = body["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3.1"),
        "{}: OpenAPI 3.1, got openapi {version:?}",
        reply.context()
    );
    let paths = body["paths"].as_object().cloned().unwrap_or_default();
    for (path, methods) in [
        ("/users", &["get", "post"][..]),
        ("/users/{id}", &["get", "patch", "delete"][..]),
        ("/api/v1/process", &["post"][..]),
    ] {
        let item = paths.get(path).unwrap_or_else(|| {
            panic!(
                "{}: paths must list {path}; it lists {:?}",
                reply.context(),
                paths.keys().collect::<Vec<_>>()
            )
        });
        for method in methods {
            assert!(
                item.get(*method).is_some_and(Value::is_object),
                "[{}] /openapi.json: {path} must document {method}",
                target.name
            );
        }
    }
}
