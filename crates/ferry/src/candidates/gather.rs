//! Asks the queries and assembles the ranked report.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};

use super::CandidatesSettings;
use super::prometheus::{Prometheus, Sample, Series};
use super::queries::{Level, Queries, promql_duration, services_selector};
use super::report::{CandidatesReport, RouteReport, Rule, SCHEMA_VERSION, ServiceReport};
use super::route_cpu::{self, RouteRates};
use super::workload;

/// Routes with less than this share of a service's requests are not fitted: their CPU goes
/// to the idle baseline (a scrape or health check a second would only add noise).
const MIN_FITTED_SHARE: f64 = 0.02;
/// The CPU samples must cover this much of the window, or the window is longer than the data.
const MIN_COVERAGE: f64 = 0.8;

/// Values by the key of their labels.
type ByKey = BTreeMap<Vec<String>, f64>;

pub fn gather(client: &Prometheus, settings: &CandidatesSettings) -> Result<CandidatesReport> {
    let end = client.now()?;
    let window = promql_duration(settings.window);
    let queries = Queries {
        metrics: &settings.metrics,
        labels: &settings.labels,
        window: window.clone(),
    };
    let service_key = [settings.labels.service.clone()];
    let route_key = [
        settings.labels.service.clone(),
        settings.labels.method.clone(),
        settings.labels.route.clone(),
    ];
    let mut notes = Vec::new();

    let rps_query = queries.rps(Level::Service, "", &window);
    let rps = keyed(client, &rps_query, end, &service_key)?;
    if rps.is_empty() {
        missing(
            client,
            &format!("{}_count", settings.metrics.duration),
            &settings.labels.service,
            &rps_query,
            end,
        )?;
    }
    let cpu_query = queries.cpu("", &window);
    let cpu = keyed(client, &cpu_query, end, &service_key)?;
    if cpu.is_empty() {
        missing(
            client,
            &settings.metrics.cpu,
            &settings.labels.service,
            &cpu_query,
            end,
        )?;
    }
    let errors = keyed(
        client,
        &queries.errors(Level::Service, ""),
        end,
        &service_key,
    )?;
    let latency_sum = keyed(
        client,
        &queries.latency_sum(Level::Service, ""),
        end,
        &service_key,
    )?;
    let p50 = keyed(
        client,
        &queries.quantile(0.5, Level::Service, ""),
        end,
        &service_key,
    )?;
    let p99 = keyed(
        client,
        &queries.quantile(0.99, Level::Service, ""),
        end,
        &service_key,
    )?;
    let rss = keyed(client, &queries.rss(), end, &service_key)?;
    let gc = keyed(client, &queries.gc(), end, &service_key)?;
    let lag = keyed(client, &queries.eventloop_lag(), end, &service_key)?;

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

    let top_names: Vec<String> = services
        .iter()
        .filter(|service| service.rps > 0.0)
        .take(settings.top)
        .map(|service| service.service.clone())
        .collect();
    let top: Vec<&str> = top_names.iter().map(String::as_str).collect();
    let (step, range_rate) = step_and_rate_window(settings);
    if !top.is_empty() {
        let selector = services_selector(&settings.labels.service, &top);
        let route_rps = keyed(
            client,
            &queries.rps(Level::Route, &selector, &window),
            end,
            &route_key,
        )?;
        let route_errors = keyed(
            client,
            &queries.errors(Level::Route, &selector),
            end,
            &route_key,
        )?;
        let route_latency = keyed(
            client,
            &queries.latency_sum(Level::Route, &selector),
            end,
            &route_key,
        )?;
        let route_p50 = keyed(
            client,
            &queries.quantile(0.5, Level::Route, &selector),
            end,
            &route_key,
        )?;
        let route_p99 = keyed(
            client,
            &queries.quantile(0.99, Level::Route, &selector),
            end,
            &route_key,
        )?;
        if route_rps.keys().all(|key| key[2].is_empty()) {
            bail!(
                "the series {}_count of {} have no `{}` label (looked for with `{}`); pass the label your services use with --route-label",
                settings.metrics.duration,
                top.join(", "),
                settings.labels.route,
                queries.rps(Level::Route, &selector, &window)
            );
        }
        let start = end - settings.window.as_secs_f64();
        let range_rate = promql_duration(range_rate);
        let cpu_series = client.query_range(
            &queries.cpu(&selector, &range_rate),
            start,
            end,
            step.as_secs_f64(),
        )?;
        let rate_series = client.query_range(
            &queries.rps(Level::Route, &selector, &range_rate),
            start,
            end,
            step.as_secs_f64(),
        )?;
        check_coverage(&cpu_series, settings.window, step)?;

        for service in services
            .iter_mut()
            .filter(|s| top.contains(&s.service.as_str()))
        {
            let mut routes: Vec<RouteReport> = route_rps
                .iter()
                .filter(|(key, _)| key[0] == service.service)
                .map(|(key, &rps)| {
                    let get = |map: &ByKey| map.get(key).copied().filter(|v| v.is_finite());
                    RouteReport {
                        route: key[2].clone(),
                        method: key[1].clone(),
                        rps,
                        share: if service.rps > 0.0 {
                            rps / service.rps
                        } else {
                            0.0
                        },
                        p50_seconds: get(&route_p50),
                        p99_seconds: get(&route_p99),
                        mean_latency_seconds: get(&route_latency)
                            .and_then(|sum| per_request(sum, rps)),
                        error_ratio: get(&route_errors)
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
    }
    if services.iter().any(|s| s.cpu_cores.is_none()) {
        notes.push(format!(
            "Services without {} cannot be ranked by CPU: their score is 0.",
            settings.metrics.cpu
        ));
    }
    notes.push(
        "CPU is measured per process: a route's CPU comes from regressing the process's CPU on its routes' request rates, so it holds as well as the fit's R² and the traffic's variation allow."
            .into(),
    );
    Ok(CandidatesReport {
        schema_version: SCHEMA_VERSION,
        ferry_version: env!("CARGO_PKG_VERSION").into(),
        prometheus: client.url().into(),
        evaluated_at_unix_s: end,
        window_seconds: settings.window.as_secs_f64(),
        step_seconds: step.as_secs_f64(),
        rule: Rule::default(),
        services,
        notes,
    })
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
                route: format!("{} {}", route.method, route.route),
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
                route.reason = format!(
                    "its CPU could not be told apart from the other routes' ({}), so it is not classed.",
                    fit.note.trim_end_matches('.')
                );
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

fn per_request(total: f64, rps: f64) -> Option<f64> {
    (rps > 0.0 && total.is_finite()).then(|| total / rps)
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

/// An instant query's samples keyed by `key` labels; series without the first key label
/// (the service) are left out.
fn keyed(client: &Prometheus, promql: &str, time: f64, key: &[String]) -> Result<ByKey> {
    let samples: Vec<Sample> = client.query(promql, time)?;
    Ok(samples
        .into_iter()
        .filter(|sample| sample.labels.contains_key(&key[0]))
        .map(|sample| {
            let values = key
                .iter()
                .map(|name| sample.labels.get(name).cloned().unwrap_or_default())
                .collect();
            (values, sample.value)
        })
        .collect())
}

/// Explains an empty answer: the metric is absent, or present without the service label.
fn missing(client: &Prometheus, metric: &str, label: &str, promql: &str, time: f64) -> Result<()> {
    let present = client.query(&format!("count({metric})"), time)?;
    if present.is_empty() {
        bail!(
            "Prometheus at {} has no series {metric} in the window (looked for with `{promql}`); pass the name your services export with the matching --*-metric flag",
            client.url()
        );
    }
    bail!(
        "the series {metric} have no `{label}` label (looked for with `{promql}`); pass the label that names your services with --service-label",
    )
}
