//! The user-service's tests against the real binary as a child process (its own process,
//! so that signals, exits, and PostgreSQL killed underneath reach it and not the tests):
//! SIGTERM with requests in flight (`drain`), PostgreSQL restarted under load
//! (`database_restart`), coalesced batches while PostgreSQL is killed
//! (`coalescing_faults`), the newcomer's path and bad configuration (`newcomer`), where
//! the configuration is found and its `[database]` names (`configuration`),
//! OpenTelemetry export on the drain (`otel`, feature `otel`), and the same binary in its
//! container image (`container`, ignored: `scripts/ci/images.sh` runs it with the filter
//! `container::`).

#[path = "lifecycle/coalescing_faults.rs"]
mod coalescing_faults;
#[path = "lifecycle/coalescing_load.rs"]
mod coalescing_load;
#[path = "lifecycle/configuration.rs"]
mod configuration;
#[path = "lifecycle/container.rs"]
mod container;
#[path = "lifecycle/database_restart.rs"]
mod database_restart;
#[path = "lifecycle/drain.rs"]
mod drain;
#[path = "lifecycle/newcomer.rs"]
mod newcomer;
#[cfg(feature = "otel")]
#[path = "lifecycle/otel.rs"]
mod otel;
#[path = "lifecycle/running.rs"]
mod running;
