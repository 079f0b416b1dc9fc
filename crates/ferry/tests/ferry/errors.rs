//! Refused connections, timeouts, 4xx/5xx and resets are counted by kind; the run still ends
//! on time and reports.

use std::time::{Duration, Instant};

use ferry::load::{LoadSettings, RateSchedule, RunResult, run};

use crate::support::servers;

/// Generous bound for "the run ended on time": its length plus the timeout plus slack for a
/// loaded CI machine.
fn run_timed(settings: &LoadSettings) -> RunResult {
    let started = Instant::now();
    let result = run(settings).unwrap();
    let limit = settings.duration.unwrap() + settings.timeout + Duration::from_secs(5);
    assert!(
        started.elapsed() < limit,
        "the run took {:?}",
        started.elapsed()
    );
    result
}

#[test]
fn refused_connections_are_connect_errors() {
    let mut settings = LoadSettings::closed(
        &servers::url(servers::refused_address()),
        2,
        Duration::from_secs(1),
    );
    settings.threads = 1;
    let result = run_timed(&settings);
    let totals = &result.totals;
    assert!(totals.errors.connect > 0);
    assert_eq!(totals.errors.connect, totals.requests);
    assert_eq!(totals.responses, 0);
    assert_eq!(totals.error_ratio, 1.0);
}

#[test]
fn unanswered_requests_are_timeouts_and_the_run_ends_on_time() {
    let address = servers::start_silent_server();
    let mut settings = LoadSettings::open(
        &servers::url(address),
        RateSchedule::parse("50/s").unwrap(),
        Some(Duration::from_secs(2)),
    );
    settings.connections = 20;
    settings.timeout = Duration::from_millis(300);
    let result = run_timed(&settings);
    let totals = &result.totals;
    assert!(totals.errors.timeout >= 50, "{totals:?}");
    assert_eq!(totals.responses, 0);
    // Every scheduled send was made or counted as dropped; none vanished.
    assert_eq!(totals.requests + totals.dropped, 100, "{totals:?}");
}

#[test]
fn server_errors_and_client_errors_are_counted_by_status() {
    for (status, server_errors, client_errors) in [(503u16, true, false), (404, false, true)] {
        let address = servers::start_server(servers::Behaviour::Status(status));
        let mut settings = LoadSettings::closed(&servers::url(address), 2, Duration::from_secs(1));
        settings.threads = 1;
        let result = run_timed(&settings);
        let totals = &result.totals;
        assert!(totals.responses > 0);
        assert_eq!(totals.status.get(&status), Some(&totals.responses));
        assert_eq!(totals.errors.status_5xx == totals.responses, server_errors);
        assert_eq!(totals.errors.status_4xx == totals.responses, client_errors);
        assert_eq!(totals.successes, 0);
        // Error responses still have latencies.
        assert_eq!(result.latency.corrected.count, totals.responses);
    }
}

#[test]
fn reset_connections_are_reset_errors() {
    let address = servers::start_resetting_server();
    let mut settings = LoadSettings::open(
        &servers::url(address),
        RateSchedule::parse("100/s").unwrap(),
        Some(Duration::from_secs(1)),
    );
    settings.connections = 4;
    settings.timeout = Duration::from_secs(2);
    let result = run_timed(&settings);
    let totals = &result.totals;
    assert!(totals.errors.reset >= 90, "{totals:?}");
    assert_eq!(totals.responses, 0);
    assert_eq!(totals.errors.timeout, 0);
}
