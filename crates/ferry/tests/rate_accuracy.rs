//! An open-model run at 2,000/s for 10 s sends 20,000 ± 1% requests.

mod support;

use std::time::Duration;

use ferry::load::{LoadSettings, RateSchedule, run};

#[test]
fn open_model_sends_the_scheduled_number_of_requests() {
    let address = support::start_server(support::Behaviour::Plaintext);
    let mut settings = LoadSettings::open(
        &support::url(address),
        RateSchedule::parse("2000/s").unwrap(),
        Some(Duration::from_secs(10)),
    );
    settings.connections = 50;
    let result = run(&settings).unwrap();
    let totals = &result.totals;
    assert!(
        (19_800..=20_200).contains(&totals.requests),
        "sent {} requests, expected 20,000 ± 1%",
        totals.requests
    );
    assert_eq!(
        totals.dropped, 0,
        "no send may be dropped against a fast server"
    );
    assert_eq!(totals.error_count, 0);
    assert_eq!(totals.responses, totals.requests);
    assert_eq!(result.time_series.len(), 10);
    // Every second of the schedule got its 2,000 (±1%) sends.
    for point in &result.time_series {
        assert!(
            (1_980..=2_020).contains(&point.requests),
            "second {} sent {}",
            point.second,
            point.requests
        );
    }
}
