//! The PromQL `candidates` asks, built from the metric and label names (each overridable).
//! Quantiles always come from bucket rates summed across instances before
//! `histogram_quantile`, never from averaged quantiles; counters only ever go through
//! `rate()`, which handles their resets.

use serde::Serialize;

/// The metric names; the defaults are what the Rust service (via `metrics-process`) and the
/// Node baseline (via `prom-client`) export.
#[derive(Debug, Clone, Serialize)]
pub struct MetricNames {
    /// A histogram of request latency in seconds, with `_bucket`, `_sum` and `_count`.
    pub duration: String,
    /// A counter of CPU seconds used by the process.
    pub cpu: String,
    /// A gauge of resident memory in bytes.
    pub rss: String,
    /// Node's GC pause histogram (optional: where exported).
    pub gc: String,
    /// Node's event-loop lag gauge, in seconds (optional: where exported).
    pub eventloop_lag: String,
}

impl Default for MetricNames {
    fn default() -> Self {
        MetricNames {
            duration: "http_request_duration_seconds".into(),
            cpu: "process_cpu_seconds_total".into(),
            rss: "process_resident_memory_bytes".into(),
            gc: "nodejs_gc_duration_seconds".into(),
            eventloop_lag: "nodejs_eventloop_lag_p99_seconds".into(),
        }
    }
}

/// The label names.
#[derive(Debug, Clone, Serialize)]
pub struct Labels {
    pub service: String,
    pub route: String,
    pub method: String,
    pub status: String,
}

impl Default for Labels {
    fn default() -> Self {
        Labels {
            service: "job".into(),
            route: "route".into(),
            method: "method".into(),
            status: "status".into(),
        }
    }
}

/// Builds the queries for one window.
pub struct Queries<'a> {
    pub metrics: &'a MetricNames,
    pub labels: &'a Labels,
    /// `[60s]`-style range for the instant queries.
    pub window: String,
}

/// Aggregation level: per service, or per service, method and route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Service,
    Route,
}

impl Queries<'_> {
    fn by(&self, level: Level) -> String {
        let l = self.labels;
        match level {
            Level::Service => l.service.clone(),
            Level::Route => format!("{}, {}, {}", l.service, l.method, l.route),
        }
    }

    /// Requests per second.
    pub fn rps(&self, level: Level, selector: &str, range: &str) -> String {
        format!(
            "sum by ({}) (rate({}_count{selector}[{range}]))",
            self.by(level),
            self.metrics.duration
        )
    }

    /// 5xx responses per second.
    pub fn errors(&self, level: Level, selector: &str) -> String {
        let matcher = format!("{}=~\"5..\"", self.labels.status);
        format!(
            "sum by ({}) (rate({}_count{}[{}]))",
            self.by(level),
            self.metrics.duration,
            merge_selector(selector, &matcher),
            self.window
        )
    }

    /// Seconds of latency per second: divided by `rps`, the mean latency.
    pub fn latency_sum(&self, level: Level, selector: &str) -> String {
        format!(
            "sum by ({}) (rate({}_sum{selector}[{}]))",
            self.by(level),
            self.metrics.duration,
            self.window
        )
    }

    /// The `q` quantile of latency from the aggregated bucket rates.
    pub fn quantile(&self, q: f64, level: Level, selector: &str) -> String {
        format!(
            "histogram_quantile({q}, sum by ({}, le) (rate({}_bucket{selector}[{}])))",
            self.by(level),
            self.metrics.duration,
            self.window
        )
    }

    /// CPU cores used.
    pub fn cpu(&self, selector: &str, range: &str) -> String {
        format!(
            "sum by ({}) (rate({}{selector}[{range}]))",
            self.labels.service, self.metrics.cpu
        )
    }

    /// Peak resident memory over the window, summed over the service's instances.
    pub fn rss(&self) -> String {
        format!(
            "sum by ({}) (max_over_time({}[{}]))",
            self.labels.service, self.metrics.rss, self.window
        )
    }

    /// Seconds of GC pause per second.
    pub fn gc(&self) -> String {
        format!(
            "sum by ({}) (rate({}_sum[{}]))",
            self.labels.service, self.metrics.gc, self.window
        )
    }

    /// Mean event-loop lag over the window, averaged over the service's instances.
    pub fn eventloop_lag(&self) -> String {
        format!(
            "avg by ({}) (avg_over_time({}[{}]))",
            self.labels.service, self.metrics.eventloop_lag, self.window
        )
    }
}

/// `{a="b"}` merged with one more matcher.
fn merge_selector(selector: &str, matcher: &str) -> String {
    match selector.strip_suffix('}') {
        Some(open) if open.len() > 1 => format!("{open}, {matcher}}}"),
        _ => format!("{{{matcher}}}"),
    }
}

/// A selector keeping only `services` (by exact name) of `label`.
pub fn services_selector(label: &str, services: &[&str]) -> String {
    let alternatives: Vec<String> = services.iter().map(|name| regex_escape(name)).collect();
    format!(
        "{{{label}=~\"{}\"}}",
        promql_string_escape(&alternatives.join("|"))
    )
}

/// Escapes RE2 metacharacters so that a name matches itself.
fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Escapes a PromQL double-quoted string's content.
fn promql_string_escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A duration in Prometheus's syntax, whole seconds or milliseconds.
pub fn promql_duration(duration: std::time::Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        format!("{millis}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queries_read_as_documented() {
        let metrics = MetricNames::default();
        let labels = Labels::default();
        let queries = Queries {
            metrics: &metrics,
            labels: &labels,
            window: "1h".into(),
        };
        assert_eq!(
            queries.quantile(0.99, Level::Service, ""),
            "histogram_quantile(0.99, sum by (job, le) (rate(http_request_duration_seconds_bucket[1h])))"
        );
        let selector = services_selector("job", &["node", "a.b"]);
        assert_eq!(selector, r#"{job=~"node|a\\.b"}"#);
        assert_eq!(
            queries.errors(Level::Route, &selector),
            r#"sum by (job, method, route) (rate(http_request_duration_seconds_count{job=~"node|a\\.b", status=~"5.."}[1h]))"#
        );
        assert_eq!(
            queries.errors(Level::Service, ""),
            r#"sum by (job) (rate(http_request_duration_seconds_count{status=~"5.."}[1h]))"#
        );
        assert_eq!(
            promql_duration(std::time::Duration::from_millis(1500)),
            "1500ms"
        );
        assert_eq!(
            promql_duration(std::time::Duration::from_secs(3600)),
            "3600s"
        );
    }
}
