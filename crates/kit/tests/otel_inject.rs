//! `kit::otel::inject` writes the current span's W3C trace context into an outgoing call's
//! headers. The exporter is the real one, pointed at a port nothing listens on: the spans
//! are created and sampled as in a service, their export fails quietly off-thread.
//!
//! A binary of its own (not a module of `tests/kit/`): it sets an environment variable and
//! installs the OTel exporter, both process-wide, which the other tests must not see.

use tracing_subscriber::layer::SubscriberExt;

#[test]
fn inject_writes_the_current_span_as_traceparent() {
    // SAFETY: this test binary has one test, and nothing else reads the environment yet.
    unsafe { std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9") };
    let (exporter, layer) = kit::otel::Exporter::from_env()
        .expect("the exporter builds from the environment")
        .expect("an endpoint is configured");
    assert!(kit::otel::is_active());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        let mut outside = http::HeaderMap::new();
        kit::otel::inject(&mut outside);
        assert!(outside.is_empty(), "no span, no trace context: {outside:?}");

        let span = tracing::info_span!("outgoing call");
        let _entered = span.enter();
        let trace_id = kit::otel::current_trace_id().expect("a span inside a trace");
        let mut headers = http::HeaderMap::new();
        kit::otel::inject(&mut headers);
        let traceparent = headers
            .get("traceparent")
            .expect("inject sets traceparent")
            .to_str()
            .expect("traceparent is ASCII");
        let parts: Vec<&str> = traceparent.split('-').collect();
        assert_eq!(parts.len(), 4, "version-trace-span-flags: {traceparent}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], trace_id, "the current trace");
        assert!(
            parts[2].len() == 16 && parts[2] != "0000000000000000",
            "the current span's id: {traceparent}"
        );
        assert_eq!(parts[3], "01", "sampled (the default sampler is always on)");
    });
    exporter.shutdown(std::time::Duration::from_secs(1));
    assert!(!kit::otel::is_active(), "export stops at shutdown");
}
