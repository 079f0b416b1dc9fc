//! A server that stalls once for 1 s during a constant-rate run: the corrected p99 shows the
//! stall, the uncorrected (service time) p99 does not, and the sends that had to wait are
//! counted as late.

use std::time::Duration;

use ferry::load::{LoadSettings, RateSchedule, run};

use crate::support::servers;

#[test]
fn a_stall_shows_in_corrected_latency_and_late_sends() {
    let address = servers::start_server(servers::Behaviour::StallOnce {
        after: Duration::from_secs(2),
        stall: Duration::from_secs(1),
    });
    let mut settings = LoadSettings::open(
        &servers::url(address),
        RateSchedule::parse("1000/s").unwrap(),
        Some(Duration::from_secs(5)),
    );
    settings.connections = 10;
    let result = run(&settings).unwrap();
    let corrected = &result.latency.corrected;
    let service = &result.latency.service;
    eprintln!(
        "corrected {corrected:?}\nservice {service:?}\ntotals {:?}",
        result.totals
    );
    assert_eq!(result.totals.error_count, 0);
    assert_eq!(result.totals.dropped, 0);
    // About 1,000 of 5,000 requests were meant to start during the stall and waited for
    // it: the top 1% of corrected latencies is deep inside it.
    assert!(
        corrected.p99_us >= 500_000,
        "corrected p99 {} µs must show the 1 s stall",
        corrected.p99_us
    );
    assert!(corrected.max_us >= 800_000);
    // Only the ~10 requests in flight when the stall began saw it from the send: 0.2%, so
    // the service-time p99 stays well clear of the 1 s stall. This is the number coordinated
    // omission reports. (On an idle machine it is a millisecond or so; the bound is half the
    // stall so that a loaded machine's slow sends don't read as the stall.)
    assert!(
        service.p99_us < 500_000,
        "service p99 {} µs must not show the stall",
        service.p99_us
    );
    assert!(
        service.p99_us * 2 < corrected.p99_us,
        "service p99 {} µs must sit far below the corrected p99 {} µs",
        service.p99_us,
        corrected.p99_us
    );
    assert!(
        service.max_us >= 500_000,
        "the stalled sends themselves saw it"
    );
    assert!(
        result.totals.late >= 500,
        "{} late sends; the stall should have made most of a second's sends wait",
        result.totals.late
    );
    // The stall belongs to the seconds the requests were meant to start in.
    let stalled_second = result
        .time_series
        .iter()
        .max_by_key(|point| point.p99_us)
        .unwrap();
    // The server's clock starts a little before the run's, more so on a loaded machine.
    assert!(
        (1..=3).contains(&stalled_second.second),
        "{stalled_second:?}"
    );
}
