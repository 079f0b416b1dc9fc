//! An open-model run at 2,000/s for 10 s sends its 20,000 requests: every one accounted
//! for exactly, at least 99% of them made even on a loaded machine.

use std::time::Duration;

use ferry::load::{LoadSettings, RateSchedule, run};

use crate::support::servers;

#[test]
fn open_model_sends_the_scheduled_number_of_requests() {
    let address = servers::start_server(servers::Behaviour::Plaintext);
    let mut settings = LoadSettings::open(
        &servers::url(address),
        RateSchedule::parse("2000/s").unwrap(),
        Some(Duration::from_secs(10)),
    );
    settings.connections = 50;
    let result = run(&settings).unwrap();
    let totals = &result.totals;
    eprintln!("totals {totals:?}");
    // The schedule places exactly 20,000 sends in the 10 s, in closed form, whatever the
    // timer or the machine's load does: every one is sent (and counted in `requests`) or,
    // if the backlog could not hold it, counted as dropped. None is lost or invented.
    assert_eq!(
        totals.requests + totals.dropped,
        20_000,
        "the schedule's 20,000 sends must all be accounted for"
    );
    // A loaded machine may make a few sends wait past their time or even drop them; against
    // a fast local server nearly all of them are still made and answered.
    assert!(
        (19_800..=20_000).contains(&totals.requests),
        "sent {} requests, expected 20,000 (−1%)",
        totals.requests
    );
    assert!(
        totals.error_count <= 200,
        "{} errors against a fast server",
        totals.error_count
    );
    assert_eq!(result.time_series.len(), 10);
    // Every second of the schedule holds its 2,000 sends, by intended start time.
    for point in &result.time_series {
        assert_eq!(
            point.requests + point.dropped,
            2_000,
            "second {} accounted for {} sends",
            point.second,
            point.requests + point.dropped
        );
    }
}
