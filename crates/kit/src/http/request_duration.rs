//! `http_request_duration_seconds`: one histogram handle per (method, route, status).
//!
//! `metrics::histogram!` with labels builds its key (three label strings, one of them
//! allocated) and looks it up in the recorder's registry on every call. The series are
//! few (the routes are templates, the statuses a handful), so each worker thread
//! registers each series once (the recorder hands every thread the same histogram for
//! the same key) and later requests scan their thread's short list: no lock, no hash,
//! no allocation.

use std::cell::RefCell;

use actix_web::http::StatusCode;

/// One series a thread has recorded on.
struct Series {
    status: StatusCode,
    method: &'static str,
    route: Box<str>,
    histogram: metrics::Histogram,
}

thread_local! {
    static SERIES: RefCell<Vec<Series>> = const { RefCell::new(Vec::new()) };
}

/// Records one finished request.
pub fn record(method: &'static str, route: &str, status: StatusCode, seconds: f64) {
    SERIES.with_borrow_mut(|series| {
        // Status first: the cheapest comparison, and the one that differs most often.
        let known = series.iter().find(|known| {
            known.status == status && known.method == method && *known.route == *route
        });
        match known {
            Some(known) => known.histogram.record(seconds),
            None => {
                let histogram = register(method, route, status);
                histogram.record(seconds);
                series.push(Series {
                    status,
                    method,
                    route: route.into(),
                    histogram,
                });
            }
        }
    });
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
        // Another thread registers the series again: the recorder's series, not a second one.
        std::thread::spawn(move || record("GET", route, StatusCode::OK, 0.003))
            .join()
            .expect("the recording thread does not panic");
        let page = crate::metrics::handle().render();
        let count = |status: &str| {
            let prefix = format!(
                "http_request_duration_seconds_count{{method=\"GET\",route=\"{route}\",status=\"{status}\"}} "
            );
            page.lines()
                .find_map(|line| line.strip_prefix(prefix.as_str()))
                .map(str::to_owned)
        };
        assert_eq!(count("200").as_deref(), Some("3"), "page:\n{page}");
        assert_eq!(count("404").as_deref(), Some("1"), "page:\n{page}");
    }
}
