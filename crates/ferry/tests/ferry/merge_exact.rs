//! `ferry report --merge` is exact: runs whose requests are known one by one, recorded
//! through the load engine's own recorder and collector and written to JSON, merge into
//! exactly the percentiles and counts of one histogram of all their requests, overall and
//! second by second. Runs that are not shares of one load refuse to merge, with the reason.

use std::path::Path;
use std::time::{Duration, Instant};

use ferry::load::histogram::{Answer, WindowedRecorder, new_latency_histogram};
use ferry::load::outcome::TransportError;
use ferry::load::{Collector, LoadSettings, RateSchedule, RunFacts, RunResult, Share, assemble};
use ferry::report::NamedRun;
use ferry::report::merge::merge;

const START_MS: u64 = 1_767_225_600_000;
const SECONDS: u64 = 5;

/// One request, as it happened.
#[derive(Clone, Copy)]
enum Known {
    Response {
        second: u64,
        corrected_us: u64,
        service_us: u64,
        status: u16,
        late: bool,
    },
    Timeout {
        second: u64,
    },
    Dropped {
        second: u64,
    },
}

fn settings(share: Share) -> LoadSettings {
    let mut settings = LoadSettings::open(
        "http://127.0.0.1:9/users/1",
        RateSchedule::parse("1000/s").unwrap(),
        Some(Duration::from_secs(SECONDS)),
    );
    settings.share = share;
    settings
}

/// Records `requests` with the engine's recorder (spread over `workers` workers, as a real
/// run is) and assembles the run result, as `ferry load` does.
fn run_of(settings: &LoadSettings, started_at_unix_ms: u64, requests: &[Known]) -> RunResult {
    let workers = 2;
    let start = Instant::now();
    let mut recorders: Vec<WindowedRecorder> = (0..workers)
        .map(|worker| WindowedRecorder::new(worker, start))
        .collect();
    for (index, request) in requests.iter().enumerate() {
        let recorder = &mut recorders[index % workers];
        let (second, jitter) = match request {
            Known::Response { second, .. }
            | Known::Timeout { second }
            | Known::Dropped { second } => (*second, (index as u64 * 7_919) % 999_000),
        };
        let intended = start + Duration::from_secs(second) + Duration::from_micros(jitter);
        let slot = recorder.begin(intended);
        match *request {
            Known::Response {
                corrected_us,
                service_us,
                status,
                late,
                ..
            } => {
                if late {
                    recorder.record_late(slot);
                }
                let finished = intended + Duration::from_micros(corrected_us);
                let sent = finished - Duration::from_micros(service_us);
                recorder.record_response(
                    slot,
                    intended,
                    sent,
                    finished,
                    Answer {
                        status,
                        body_bytes: 13,
                        error: ferry::load::target::is_error(None, status),
                    },
                );
            }
            Known::Timeout { .. } => recorder.record_error(slot, TransportError::Timeout),
            Known::Dropped { .. } => recorder.record_dropped(slot),
        }
    }
    let mut collector = Collector::new(workers);
    for recorder in &mut recorders {
        collector
            .accept(recorder.take_complete(start, true))
            .unwrap();
    }
    collector.finalise_all(SECONDS).unwrap();
    let facts = RunFacts {
        threads: workers,
        started_at_unix_ms,
        measured: Duration::from_secs(SECONDS),
        interrupted: false,
    };
    assemble(settings, &facts, &collector).unwrap()
}

/// Random requests; latencies below 2,048 µs, where a 3-significant-figure histogram is
/// exact, unless `wide`.
fn known_requests(seed: u64, count: usize, wide: bool) -> Vec<Known> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..count)
        .map(|_| {
            let second = rng.u64(..SECONDS);
            match rng.u32(..100) {
                0 => Known::Timeout { second },
                1 => Known::Dropped { second },
                draw => {
                    let corrected_us = if wide {
                        10f64.powf(rng.f64() * 6.5) as u64 + 1
                    } else {
                        rng.u64(1..2_048)
                    };
                    Known::Response {
                        second,
                        corrected_us,
                        service_us: rng.u64(1..=corrected_us),
                        status: if draw < 4 { 503 } else { 200 },
                        late: draw < 10,
                    }
                }
            }
        })
        .collect()
}

/// HdrHistogram's percentile: the smallest value with at least `quantile` of all at or
/// below it.
fn brute_force_quantile(sorted: &[u64], quantile: f64) -> u64 {
    let rank = ((quantile * sorted.len() as f64).ceil() as usize).max(1);
    sorted[rank - 1]
}

fn corrected_of(requests: &[Known], in_second: Option<u64>) -> Vec<u64> {
    let mut values: Vec<u64> = requests
        .iter()
        .filter_map(|request| match request {
            Known::Response {
                second,
                corrected_us,
                ..
            } if in_second.is_none_or(|wanted| wanted == *second) => Some(*corrected_us),
            _ => None,
        })
        .collect();
    values.sort_unstable();
    values
}

/// Writes each run to JSON and reads it back, as the hosts' files travel.
fn through_json(runs: Vec<(&str, RunResult)>) -> Vec<NamedRun> {
    let dir = std::env::temp_dir().join(format!("ferry-merge-exact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    runs.into_iter()
        .map(|(name, result)| {
            let path = dir.join(format!("{name}.json"));
            result.write_json_file(&path).unwrap();
            NamedRun::from_json_file(Path::new(&path)).unwrap()
        })
        .collect()
}

fn three_shares(seed: u64, wide: bool) -> (Vec<Vec<Known>>, Vec<NamedRun>) {
    let parts: Vec<Vec<Known>> = (0..3)
        .map(|part| known_requests(seed + part, 4_000 + 500 * part as usize, wide))
        .collect();
    let runs = parts
        .iter()
        .enumerate()
        .map(|(index, requests)| {
            let share = Share {
                index: index as u32 + 1,
                count: 3,
            };
            // Starts a few milliseconds apart, as synced clocks are.
            let run = run_of(&settings(share), START_MS + 3 * index as u64, requests);
            (["a", "b", "c"][index], run)
        })
        .collect();
    (parts, through_json(runs))
}

#[test]
fn merged_percentiles_and_counts_equal_those_of_all_requests() {
    let (parts, runs) = three_shares(11, false);
    let merged = merge(&runs).unwrap();
    assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    let result = &merged.result;
    let all: Vec<Known> = parts.concat();
    let sorted = corrected_of(&all, None);

    let corrected = result.histograms.corrected().unwrap();
    assert_eq!(corrected.len(), sorted.len() as u64);
    for quantile in [0.0001, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0] {
        assert_eq!(
            corrected.value_at_quantile(quantile),
            brute_force_quantile(&sorted, quantile),
            "quantile {quantile}"
        );
    }
    let summary = &result.latency.corrected;
    assert_eq!(summary.p50_us, brute_force_quantile(&sorted, 0.5));
    assert_eq!(summary.p99_us, brute_force_quantile(&sorted, 0.99));
    assert_eq!(summary.p99_9_us, brute_force_quantile(&sorted, 0.999));
    assert_eq!(summary.max_us, *sorted.last().unwrap());

    // Counts add up, kind by kind.
    let count =
        |wanted: fn(&Known) -> bool| all.iter().filter(|known| wanted(known)).count() as u64;
    let totals = &result.totals;
    let responses = count(|known| matches!(known, Known::Response { .. }));
    let timeouts = count(|known| matches!(known, Known::Timeout { .. }));
    assert_eq!(totals.responses, responses);
    assert_eq!(totals.requests, responses + timeouts);
    assert_eq!(totals.errors.timeout, timeouts);
    assert_eq!(
        totals.dropped,
        count(|known| matches!(known, Known::Dropped { .. }))
    );
    assert_eq!(
        totals.late,
        count(|known| matches!(known, Known::Response { late: true, .. }))
    );
    assert_eq!(
        totals.errors.status_5xx,
        count(|known| matches!(known, Known::Response { status: 503, .. }))
    );
    assert_eq!(totals.status[&503], totals.errors.status_5xx);
    assert_eq!(totals.body_bytes, 13 * responses);

    // One timeline, second by second exact.
    assert_eq!(result.time_series.len() as u64, SECONDS);
    for point in &result.time_series {
        let second = corrected_of(&all, Some(point.second));
        assert_eq!(
            point.responses,
            second.len() as u64,
            "second {}",
            point.second
        );
        assert_eq!(point.p50_us, brute_force_quantile(&second, 0.5));
        assert_eq!(point.p99_us, brute_force_quantile(&second, 0.99));
        assert_eq!(point.max_us, *second.last().unwrap());
    }
    let per_second: u64 = result.time_series.iter().map(|point| point.requests).sum();
    assert_eq!(per_second, totals.requests);

    // The merge is an ordinary run that records its parts.
    assert_eq!(result.share, Share::WHOLE);
    assert_eq!(result.merged_from.len(), 3);
    assert_eq!(result.started_at_unix_ms, START_MS);
    // Each share opened its part of -c; together they are the whole load's.
    assert_eq!(
        result.settings.connections,
        settings(Share::WHOLE).connections
    );
    // It reads back as a run, as `ferry report` and another merge read it.
    let reread = &through_json(vec![("merged", result.clone())])[0].result;
    assert_eq!(reread.totals, result.totals);
    assert_eq!(reread.time_series, result.time_series);
    assert_eq!(reread.histograms, result.histograms);
}

#[test]
fn merged_histogram_is_one_histogram_of_all_requests_at_any_scale() {
    let (parts, runs) = three_shares(23, true);
    let merged = merge(&runs).unwrap().result;
    let mut single = new_latency_histogram();
    for value in corrected_of(&parts.concat(), None) {
        single.record(value).unwrap();
    }
    assert_eq!(merged.histograms.corrected().unwrap(), single);
}

#[test]
fn a_late_start_shifts_the_timeline_by_whole_seconds_and_warns() {
    let early = known_requests(5, 2_000, false);
    let late = known_requests(6, 2_000, false);
    let runs = through_json(vec![
        (
            "early",
            run_of(&settings("1/2".parse().unwrap()), START_MS, &early),
        ),
        (
            "late",
            run_of(&settings("2/2".parse().unwrap()), START_MS + 1_200, &late),
        ),
    ]);
    let merged = merge(&runs).unwrap();
    assert!(
        merged
            .warnings
            .iter()
            .any(|warning| warning.contains("1200 ms")),
        "{:?}",
        merged.warnings
    );
    let series = &merged.result.time_series;
    assert_eq!(series.len() as u64, SECONDS + 1);
    // Merged second 0 holds only the early run's second 0; the late run begins at second 1.
    let early_zero = corrected_of(&early, Some(0)).len() as u64;
    assert_eq!(series[0].responses, early_zero);
    let both = early_zero + corrected_of(&late, Some(0)).len() as u64;
    assert_eq!(
        series[1].responses,
        corrected_of(&early, Some(1)).len() as u64 + both - early_zero
    );
    assert!((merged.result.totals.duration_s - 6.2).abs() < 1e-9);
}

#[test]
fn runs_that_are_not_shares_of_one_load_refuse_to_merge() {
    let requests = known_requests(9, 500, false);
    let run = |share: &str| run_of(&settings(share.parse().unwrap()), START_MS, &requests);
    let refusal =
        |runs: Vec<(&str, RunResult)>| merge(&through_json(runs)).unwrap_err().to_string();

    let mut elsewhere = settings("2/2".parse().unwrap());
    elsewhere.targets[0].url = "http://127.0.0.1:10/users/1".to_string();
    let reason = refusal(vec![
        ("one", run("1/2")),
        ("other-target", run_of(&elsewhere, START_MS, &requests)),
    ]);
    assert!(reason.contains("different targets"), "{reason}");
    assert!(reason.contains("127.0.0.1:10"), "{reason}");

    let mut faster = settings("2/2".parse().unwrap());
    faster.model = ferry::load::Model::Open {
        schedule: RateSchedule::parse("2000/s").unwrap(),
        max_backlog: None,
    };
    let reason = refusal(vec![
        ("one", run("1/2")),
        ("other-rate", run_of(&faster, START_MS, &requests)),
    ]);
    assert!(reason.contains("different schedules"), "{reason}");
    assert!(reason.contains("2000/s"), "{reason}");

    let reason = refusal(vec![("first", run("1/2")), ("again", run("1/2"))]);
    assert!(reason.contains("overlapping shares"), "{reason}");
    assert!(reason.contains("1/2"), "{reason}");

    // Two whole runs overlap too: each is all of the load.
    let reason = refusal(vec![("whole", run("1/1")), ("whole-again", run("1/1"))]);
    assert!(reason.contains("overlapping shares"), "{reason}");

    let reason = refusal(vec![("half", run("1/2")), ("third", run("2/3"))]);
    assert!(reason.contains("different splits"), "{reason}");

    let mut old = run("2/2");
    for point in &mut old.time_series {
        point.histograms = None;
    }
    let reason = refusal(vec![("new", run("1/2")), ("old", old)]);
    assert!(reason.contains("no per-second histograms"), "{reason}");

    let reason = refusal(vec![("alone", run("1/2"))]);
    assert!(reason.contains("at least two"), "{reason}");
}

#[test]
fn a_missing_share_merges_with_a_warning() {
    let requests = known_requests(3, 500, false);
    let runs = through_json(vec![
        (
            "p1",
            run_of(&settings("1/3".parse().unwrap()), START_MS, &requests),
        ),
        (
            "p3",
            run_of(&settings("3/3".parse().unwrap()), START_MS, &requests),
        ),
    ]);
    let merged = merge(&runs).unwrap();
    assert_eq!(
        merged.warnings,
        ["share 2/3 missing: the merge holds 2 of the 3 parts of the load"]
    );
    // A merge of merges checks the parts: adding share 3 again overlaps.
    let again = through_json(vec![
        ("merged", merged.result),
        (
            "p3-again",
            run_of(&settings("3/3".parse().unwrap()), START_MS, &requests),
        ),
    ]);
    let reason = merge(&again).unwrap_err().to_string();
    assert!(reason.contains("overlapping shares"), "{reason}");
}
