//! `POST /api/v1/process`: the CPU-bound batch transformation of the contract
//! (docs/contract.md, "CPU-bound batch processing" and "Decisions… `/api/v1/process`").
//!
//! The output is byte for byte the Node baseline's (`baselines/node/src/process.js`);
//! `tests/contract/tests/contract/process_vs_node/` compares the two on generated batches.
//!
//! - [`parse`]: one pass over the body that reads JSON as JSON.parse does and checks and
//!   groups the records on the way;
//! - [`record`], [`timestamp`]: the field checks (these three live in the `parsing`
//!   crate, which is fuzzed);
//! - [`compute`]: the whole computation, body in, body out;
//! - [`stats`], [`digest`]: the per-group stats and the rendering (body and digest);
//! - [`shedding`]: the bounded pool (slots on tokio's blocking pool, a bounded queue,
//!   503 when both are full); [`handler`]: the route.
//!
//! Known divergence from the Node baseline, outside valid input: none in the
//! transformation. (JSON nesting depth is unlimited in both.)

pub mod compute;
pub mod digest;
pub mod handler;
pub mod shedding;
pub mod stats;

pub use parsing::process::{parse, record, timestamp};

pub use self::compute::{BodyError, MAX_INVALID_LISTED, MAX_RECORDS, process_body};

#[cfg(test)]
mod tests;
