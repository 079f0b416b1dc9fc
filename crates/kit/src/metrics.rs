//! Prometheus metrics: the recorder, the `/metrics` page, and the measurements every
//! service shares.
//!
//! | metric | kind | labels |
//! | --- | --- | --- |
//! | `http_request_duration_seconds` | histogram | `method`, `route` (template, `unmatched` for 404), `status` |
//! | `http_requests_in_flight` | gauge | |
//! | `db_pool_connections`, `db_pool_idle_connections` | gauge (set when scraped) | |
//! | `db_pool_acquire_wait_seconds` | histogram | |
//! | `db_batch_size` | histogram (calls per coalesced statement, `kit::db::coalesce`) | `batch` |
//! | `process_cpu_seconds_total`, `process_resident_memory_bytes`, … | from `metrics-process`, when scraped | |
//!
//! The recorder is global to the process (the `metrics` crate's design), so it is
//! installed once and shared by every app built in the process (tests build many).

use std::sync::OnceLock;
use std::time::Duration;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::db::Database;

/// Latency buckets, in seconds: fine below a millisecond (where a fast service lives)
/// up to the 5 s at which a request is surely broken.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Calls per coalesced statement: powers of two up to the largest batch.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// A counter registered once, for a hot path that should not look its name up on every
/// increment. Installs the recorder first, so the handle is never a no-op.
pub fn counter(name: &'static str) -> metrics::Counter {
    let _ = handle();
    metrics::counter!(name)
}

/// A gauge registered once (see [`counter`]).
pub fn gauge(name: &'static str) -> metrics::Gauge {
    let _ = handle();
    metrics::gauge!(name)
}

/// The process-wide Prometheus handle, installing the recorder on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .expect("the bucket list is a non-empty constant")
            .set_buckets_for_metric(Matcher::Full("db_batch_size".into()), BATCH_BUCKETS)
            .expect("the bucket list is a non-empty constant");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Fails only when another recorder was installed first (a test harness's own);
        // the handle then renders an empty page rather than breaking the service.
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will not show this service's metrics");
        }
        metrics_process::Collector::default().describe();
        spawn_upkeep(handle.clone());
        handle
    })
}

/// How often the histograms' recorded samples are folded into their buckets.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The recorder keeps every sample a histogram records until an upkeep folds them into
/// its buckets (`build_recorder` leaves scheduling that to us), so a service scraped
/// rarely, or never, would hold a sample per request: memory that grows without bound,
/// and new memory touched on every record. A thread of its own, because the recorder is
/// installed before (and outlives) any runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(error) = spawned {
        // Scrapes still run the upkeep; only an unscraped service is left to grow.
        tracing::warn!(%error, "no metrics upkeep thread: histograms are folded only when scraped");
    }
}

pub(crate) fn record_pool_acquire_wait(waited: Duration) {
    metrics::histogram!("db_pool_acquire_wait_seconds").record(waited.as_secs_f64());
}

/// `GET /metrics`: gauges sampled now, then the Prometheus text page.
pub async fn render(database: Option<web::Data<Database>>) -> HttpResponse {
    if let Some(database) = database {
        let (size, idle) = database.pool_state();
        metrics::gauge!("db_pool_connections").set(f64::from(size));
        metrics::gauge!("db_pool_idle_connections").set(idle as f64);
    }
    metrics_process::Collector::default().collect();
    let handle = handle();
    handle.run_upkeep();
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        ))
        .body(handle.render())
}

#[cfg(test)]
mod tests {
    #[test]
    fn installing_the_recorder_starts_its_upkeep_thread() {
        let _ = super::handle();
        // Linux names each thread in /proc (the kit runs on Linux: see `connection_cap`).
        let names: Vec<String> = std::fs::read_dir("/proc/self/task")
            .expect("/proc lists this process's threads")
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .collect();
        assert!(
            names.iter().any(|name| name.trim_end() == "metrics-upkeep"),
            "threads: {names:?}"
        );
    }
}
