//! ferry: the migration lab.
//!
//! - [`candidates`] ranks services and routes from a Prometheus server (`ferry candidates`);
//! - [`compare`] runs the Rust service against the Node.js baseline (`ferry compare`);
//! - [`cost`] turns a comparison into instances and money (`ferry cost`);
//! - [`load`] runs load tests (closed and open model) and returns a [`load::RunResult`];
//! - [`report`] renders results as text, markdown and self-contained HTML;
//! - [`slo`] checks results against service-level objectives for CI.

pub mod candidates;
pub mod compare;
pub mod cost;
pub mod load;
pub mod report;
pub mod serve;
pub mod shadow;
pub mod slo;
pub mod units;
