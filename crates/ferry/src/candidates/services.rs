//! The service level: one report per service, classed and scored, in rank order.

use anyhow::Result;

use super::gather::{Ask, ByKey, per_request};
use super::queries::Level;
use super::report::ServiceReport;
use super::workload;

/// Every service with request metrics, best candidate first.
pub(super) fn ranked(ask: &Ask) -> Result<Vec<ServiceReport>> {
    let settings = ask.settings;
    let queries = &ask.queries;
    let key = [settings.labels.service.clone()];
    let rps_query = queries.rps(Level::Service, "", &queries.window);
    let rps = ask.keyed(&rps_query, &key)?;
    if rps.is_empty() {
        ask.missing(&format!("{}_count", settings.metrics.duration), &rps_query)?;
    }
    let cpu_query = queries.cpu("", &queries.window);
    let cpu = ask.keyed(&cpu_query, &key)?;
    if cpu.is_empty() {
        ask.missing(&settings.metrics.cpu, &cpu_query)?;
    }
    let errors = ask.keyed(&queries.errors(Level::Service, ""), &key)?;
    let latency_sum = ask.keyed(&queries.latency_sum(Level::Service, ""), &key)?;
    let p50 = ask.keyed(&queries.quantile(0.5, Level::Service, ""), &key)?;
    let p99 = ask.keyed(&queries.quantile(0.99, Level::Service, ""), &key)?;
    let rss = ask.keyed(&queries.rss(), &key)?;
    let gc = ask.keyed(&queries.gc(), &key)?;
    let lag = ask.keyed(&queries.eventloop_lag(), &key)?;

    let mut services: Vec<ServiceReport> = rps
        .iter()
        .map(|(key, &rps)| {
            let get = |map: &ByKey| map.get(key).copied().filter(|v| v.is_finite());
            let cpu_cores = get(&cpu);
            let mean_latency = get(&latency_sum).and_then(|sum| per_request(sum, rps));
            let cpu_per_request = cpu_cores.and_then(|cores| per_request(cores, rps));
            let verdict = cpu_per_request
                .zip(mean_latency)
                .and_then(|(cpu, latency)| workload::classify(cpu, latency));
            let reason = match (&verdict, cpu_cores) {
                (Some(verdict), _) => verdict.reason.clone(),
                (None, None) => format!(
                    "no {} series for this service: its CPU is unknown.",
                    settings.metrics.cpu
                ),
                (None, Some(_)) => "no requests in the window: no CPU per request.".into(),
            };
            let cpu_share = verdict.as_ref().map(|v| v.cpu_share);
            ServiceReport {
                service: key[0].clone(),
                rps,
                p50_seconds: get(&p50),
                p99_seconds: get(&p99),
                mean_latency_seconds: mean_latency,
                error_ratio: get(&errors)
                    .and_then(|e| per_request(e, rps))
                    .unwrap_or(0.0),
                cpu_cores,
                cpu_seconds_per_request: cpu_per_request,
                rss_bytes: get(&rss),
                gc_seconds_per_second: get(&gc),
                eventloop_lag_seconds: get(&lag),
                cpu_share,
                workload: verdict.map(|v| v.workload),
                reason,
                score: workload::score(cpu_cores.unwrap_or(0.0), cpu_share),
                routes: Vec::new(),
                cpu_fit: None,
            }
        })
        .collect();
    // By score, then p99 (slowest first), then name so that the order is stable.
    services.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(
                b.p99_seconds
                    .unwrap_or(0.0)
                    .total_cmp(&a.p99_seconds.unwrap_or(0.0)),
            )
            .then(a.service.cmp(&b.service))
    });
    Ok(services)
}
