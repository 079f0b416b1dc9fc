//! `ferry candidates` against a real Prometheus scraping the real Rust user-service and the
//! real Node baseline (on a throwaway embedded PostgreSQL) while ferry's load library sends
//! `/api/v1/process` and `GET /users/{id}` in phases of different mixes.
//!
//! Heavy (two services, ~1 minute of load): `#[ignore]`d, run by
//! `scripts/ci/prometheus.sh`. The error cases that need no Prometheus run by default.
//!
//! `/api/v1/process` must come out `cpu-bound`. On a machine whose CPU is contended (PSI
//! `some avg60` above 50%, as when other builds share the cores), run-queue wait counts as
//! latency for every route and no class holds: the test then prints the class without
//! checking it, and bounds Prometheus's p99 by ferry's (the client waits for a CPU too)
//! instead of matching them. The CPU per request is checked either way.
//!
//! Tolerances, and why:
//! - CPU per `/api/v1/process` request, ferry's regression against the test's own reading of
//!   `/proc/<pid>/stat` (utime + stime of the whole process tree, idle CPU subtracted) in
//!   the process-only phase: within 35%. The regression sees the same CPU through the
//!   services' own counters, but over 4 s rate windows that smear the phase edges, with
//!   scrapes (1 s apart) that do not line up with the phase boundaries, and with the
//!   intercept standing in for idle CPU; /proc ticks are 10 ms. On this shared 2-core
//!   machine the services' CPU per request also moves with contention (cache misses,
//!   frequency), and both figures see that.
//! - p99 of `/api/v1/process`, Prometheus's `histogram_quantile` against ferry's measured
//!   service-time p99 over the same requests: within a factor of 2.5. histogram_quantile
//!   interpolates linearly inside one bucket, and adjacent bucket bounds of both services'
//!   histograms are at most 2.5× apart (0.01 → 0.025 s), so a correct quantile can sit
//!   anywhere in that bucket; ferry also measures from the client (plus loopback).
mod checks;
mod https;
mod procfs;
mod services;

use std::time::{Duration, Instant};

use crate::support::prometheus::Prometheus;
use crate::support::workspace::repo;

#[test]
#[ignore = "heavy: a real Prometheus, both services and a minute of load; scripts/ci/prometheus.sh runs it"]
fn candidates_ranks_and_classifies_both_services_from_prometheus() {
    procfs::prioritise_this_thread();
    let node_dir = repo().join("baselines/node");
    assert!(
        node_dir.join("node_modules").is_dir(),
        "run npm ci in baselines/node first"
    );
    let mut seeded = services::Seeded::prepare();
    let mut services = services::start(&seeded, &node_dir);
    let prometheus = Prometheus::start(&services::jobs(&services));
    let started = Instant::now();
    services::measure_idle(&mut services);
    services::run_phases(&mut services);
    // The last scrapes of the load.
    std::thread::sleep(Duration::from_secs(3));
    let window = started.elapsed().as_secs() - 1;

    let (report, targets_file) = checks::run_candidates(&prometheus, &seeded.work, window);
    checks::ranking_and_classes(&report, &services);
    checks::target_file(&seeded.ids_file, &seeded.work, &targets_file);
    checks::errors_name_what_they_looked_for(&prometheus, window);

    drop(prometheus);
    for (_, service) in services {
        service.running.stop().unwrap();
    }
    seeded.database.stop().unwrap();
    let _ = std::fs::remove_dir_all(&seeded.work);
}
