//! The user-service's in-process tests, one binary so that actix, SQLx and hyper are
//! linked once: the app built on port 0 (`support::spawn_app`) or the store alone, each
//! test on its own database of the embedded PostgreSQL. The tests that run the real
//! binary and send it signals are the `lifecycle` binary; the heavy overload runs are
//! `overload` (`scripts/ci/overload.sh`).

mod batched_changes;
mod batched_creates;
mod cache;
mod cancellation;
mod contract_rust;
mod database_faults;
mod openapi;
mod pagination;
mod proxy;
mod read_path;
mod slow_clients;
mod stalled_backend;
mod support;
