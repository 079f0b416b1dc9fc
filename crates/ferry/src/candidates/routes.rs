//! The route level, for the top services: rates, latency and errors per route, and each
//! route's CPU from the regression of [`super::route_cpu`] over `query_range` samples.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};

use super::CandidatesSettings;
use super::gather::{Ask, ByKey, per_request};
use super::prometheus::Series;
use super::queries::{Level, promql_duration, services_selector};
use super::report::{RouteReport, ServiceReport};
use super::route_cpu::{self, RouteRates};
use super::workload;

/// Routes with less than this share of a service's requests are not fitted: their CPU goes
/// to the idle baseline (a scrape or health check a second would only add noise).
const MIN_FITTED_SHARE: f64 = 0.02;
/// The CPU samples must cover this much of the window, or the window is longer than the data.
const MIN_COVERAGE: f64 = 0.8;

/// Fills in the routes of the `--top` services (of those with traffic); returns the step
/// of the range samples.
pub(super) fn break_down(ask: &Ask, services: &mut [ServiceReport]) -> Result<Duration> {
    let settings = ask.settings;
    let queries = &ask.queries;
    let (step, range_rate) = step_and_rate_window(settings);
    let top: Vec<String> = services
        .iter()
        .filter(|service| service.rps > 0.0)
        .take(settings.top)
        .map(|service| service.service.clone())
        .collect();
    if top.is_empty() {
        return Ok(step);
    }
    let top_names: Vec<&str> = top.iter().map(String::as_str).collect();
    let selector = services_selector(&settings.labels.service, &top_names);
    let key = [
        settings.labels.service.clone(),
        settings.labels.method.clone(),
        settings.labels.route.clone(),
    ];
    let rps_query = queries.rps(Level::Route, &selector, &queries.window);
    let rps = ask.keyed(&rps_query, &key)?;
    if rps.keys().all(|key| key[2].is_empty()) {
        bail!(
            "the series {}_count of {} have no `{}` label (looked for with `{rps_query}`); pass the label your services use with --route-label",
            settings.metrics.duration,
            top.join(", "),
            settings.labels.route,
        );
    }
    let errors = ask.keyed(&queries.errors(Level::Route, &selector), &key)?;
    let latency = ask.keyed(&queries.latency_sum(Level::Route, &selector), &key)?;
    let p50 = ask.keyed(&queries.quantile(0.5, Level::Route, &selector), &key)?;
    let p99 = ask.keyed(&queries.quantile(0.99, Level::Route, &selector), &key)?;

    let start = ask.end - settings.window.as_secs_f64();
    let range_rate = promql_duration(range_rate);
    let range = |promql: String| {
        ask.client
            .query_range(&promql, start, ask.end, step.as_secs_f64())
    };
    let cpu_series = range(queries.cpu(&selector, &range_rate))?;
    let rate_series = range(queries.rps(Level::Route, &selector, &range_rate))?;
    check_coverage(&cpu_series, settings.window, step)?;

    for service in services.iter_mut().filter(|s| top.contains(&s.service)) {
        let mut routes: Vec<RouteReport> = rps
            .iter()
            .filter(|(key, _)| key[0] == service.service)
            .map(|(key, &rps)| {
                let get = |map: &ByKey| map.get(key).copied().filter(|v| v.is_finite());
                RouteReport {
                    route: key[2].clone(),
                    method: key[1].clone(),
                    rps,
                    share: per_request(rps, service.rps).unwrap_or(0.0),
                    p50_seconds: get(&p50),
                    p99_seconds: get(&p99),
                    mean_latency_seconds: get(&latency).and_then(|sum| per_request(sum, rps)),
                    error_ratio: get(&errors)
                        .and_then(|e| per_request(e, rps))
                        .unwrap_or(0.0),
                    cpu_seconds_per_request: None,
                    cpu_identifiable: false,
                    cpu_share: None,
                    workload: None,
                    reason: format!(
                        "less than {:.0}% of the service's requests: its CPU is not estimated.",
                        MIN_FITTED_SHARE * 100.0
                    ),
                }
            })
            .collect();
        routes.sort_by(|a, b| b.rps.total_cmp(&a.rps));
        fit_routes(service, &mut routes, &cpu_series, &rate_series, settings);
        service.routes = routes;
    }
    Ok(step)
}

/// Fits the service's CPU on its routes' rates and fills in each fitted route's CPU and class.
fn fit_routes(
    service: &mut ServiceReport,
    routes: &mut [RouteReport],
    cpu_series: &[Series],
    rate_series: &[Series],
    settings: &CandidatesSettings,
) {
    let labels = &settings.labels;
    let Some(cpu) = cpu_series
        .iter()
        .find(|series| series.labels.get(&labels.service) == Some(&service.service))
    else {
        return;
    };
    let times: Vec<i64> = cpu.points.iter().map(|(t, _)| millis(*t)).collect();
    let cpu_values: Vec<f64> = cpu.points.iter().map(|(_, v)| *v).collect();
    let fitted: Vec<usize> = (0..routes.len())
        .filter(|&index| routes[index].share >= MIN_FITTED_SHARE)
        .collect();
    let inputs: Vec<RouteRates> = fitted
        .iter()
        .map(|&index| {
            let route = &routes[index];
            let by_time: BTreeMap<i64, f64> = rate_series
                .iter()
                .filter(|series| {
                    series.labels.get(&labels.service) == Some(&service.service)
                        && label(series, &labels.route) == route.route
                        && label(series, &labels.method) == route.method
                })
                .flat_map(|series| series.points.iter().map(|(t, v)| (millis(*t), *v)))
                .collect();
            RouteRates {
                route: route.name(),
                // No sample: no request counted in that rate window.
                rates: times
                    .iter()
                    .map(|t| by_time.get(t).copied().unwrap_or(0.0))
                    .collect(),
            }
        })
        .collect();
    let Some(fit) = route_cpu::fit(&cpu_values, &inputs) else {
        for &index in &fitted {
            routes[index].reason = format!(
                "{} CPU samples are too few to fit {} routes: its CPU is not estimated.",
                cpu_values.len(),
                fitted.len()
            );
        }
        return;
    };
    for (estimate, &index) in fit.routes.iter().zip(&fitted) {
        let route = &mut routes[index];
        route.cpu_seconds_per_request = Some(estimate.cpu_seconds_per_request);
        route.cpu_identifiable = estimate.identifiable;
        let verdict = route
            .mean_latency_seconds
            .and_then(|latency| workload::classify(estimate.cpu_seconds_per_request, latency));
        match verdict {
            Some(verdict) if estimate.identifiable => {
                route.cpu_share = Some(verdict.cpu_share);
                route.workload = Some(verdict.workload);
                route.reason = verdict.reason;
            }
            _ => {
                route.reason = format!("not classed: {}", fit.note);
            }
        }
    }
    service.cpu_fit = Some(fit);
}

fn label<'a>(series: &'a Series, name: &str) -> &'a str {
    series.labels.get(name).map_or("", String::as_str)
}

fn millis(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// The step (window / 120, at least the scrape interval) and the rate window of the range
/// queries (four scrape intervals, at least two steps): short enough to follow the traffic's
/// changes, long enough that every rate spans several scrapes.
fn step_and_rate_window(settings: &CandidatesSettings) -> (Duration, Duration) {
    let step = settings.step.unwrap_or_else(|| {
        let automatic = settings.window / 120;
        automatic.max(settings.scrape_interval)
    });
    let step = Duration::from_millis((step.as_millis() as u64).max(1));
    let rate = (settings.scrape_interval * 4).max(step * 2);
    (step, rate)
}

/// Fails when even the longest CPU series covers too little of the window.
fn check_coverage(series: &[Series], window: Duration, step: Duration) -> Result<()> {
    let covered = series
        .iter()
        .filter_map(|s| Some(s.points.last()?.0 - s.points.first()?.0 + step.as_secs_f64()))
        .fold(0.0, f64::max);
    let wanted = window.as_secs_f64();
    if covered < MIN_COVERAGE * wanted {
        bail!(
            "the window ({}) is longer than the data: the CPU samples cover only the last {:.0} s; pass --window {}s or less",
            promql_duration(window),
            covered,
            (covered.floor() as u64).max(1)
        );
    }
    Ok(())
}
