//! `http_request_duration_seconds`: one histogram handle per (method, route, status).
//!
//! `metrics::histogram!` with labels builds its key (three label strings, one of them
//! allocated) and looks it up in the recorder's registry on every call. The series are
//! few (the routes are templates, the statuses a handful), so each is registered once
//! here and every later request records on its handle after one read-locked look-up by
//! route, with no allocation.

use std::collections::HashMap;
use std::sync::{LazyLock, PoisonError, RwLock};

use actix_web::http::StatusCode;

/// The series of one route: (method, status, handle). A route sees few of them, so a
/// scan beats a second map.
type RouteSeries = Vec<(&'static str, StatusCode, metrics::Histogram)>;

static HISTOGRAMS: LazyLock<RwLock<HashMap<String, RouteSeries>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Records one finished request.
pub fn record(method: &'static str, route: &str, status: StatusCode, seconds: f64) {
    {
        // A panic while holding the lock leaves the map consistent (entries are only
        // pushed whole), so a poisoned lock is still usable.
        let histograms = HISTOGRAMS.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(histogram) = find(&histograms, method, route, status) {
            histogram.record(seconds);
            return;
        }
    }
    let mut histograms = HISTOGRAMS.write().unwrap_or_else(PoisonError::into_inner);
    // Another request may have registered it between the two locks.
    if let Some(histogram) = find(&histograms, method, route, status) {
        histogram.record(seconds);
        return;
    }
    let histogram = register(method, route, status);
    histogram.record(seconds);
    histograms
        .entry(route.to_owned())
        .or_default()
        .push((method, status, histogram));
}

fn find<'a>(
    histograms: &'a HashMap<String, RouteSeries>,
    method: &'static str,
    route: &str,
    status: StatusCode,
) -> Option<&'a metrics::Histogram> {
    histograms
        .get(route)?
        .iter()
        .find(|(m, s, _)| *m == method && *s == status)
        .map(|(_, _, histogram)| histogram)
}

/// Installs the recorder first, so a cached handle is never a no-op.
fn register(method: &'static str, route: &str, status: StatusCode) -> metrics::Histogram {
    let _ = crate::metrics::handle();
    metrics::histogram!(
        "http_request_duration_seconds",
        "method" => method,
        "route" => route.to_owned(),
        "status" => status.as_str().to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_is_rendered_with_its_labels_and_counts() {
        let route = "/request-duration-test/{id}";
        record("GET", route, StatusCode::OK, 0.001);
        record("GET", route, StatusCode::OK, 0.002);
        record("GET", route, StatusCode::NOT_FOUND, 0.001);
        let page = crate::metrics::handle().render();
        let count = |status: &str| {
            let prefix = format!(
                "http_request_duration_seconds_count{{method=\"GET\",route=\"{route}\",status=\"{status}\"}} "
            );
            page.lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
                .map(str::to_owned)
        };
        assert_eq!(count("200").as_deref(), Some("2"), "page:\n{page}");
        assert_eq!(count("404").as_deref(), Some("1"), "page:\n{page}");
    }
}
