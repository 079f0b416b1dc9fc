//! The `/api/v1/process` body: [`parse`] reads it in one pass, as JavaScript's
//! JSON.parse reads JSON, checking ([`record`], [`timestamp`]) and grouping the
//! records on the way. The computation over the groups is the service's.

pub mod parse;
pub mod record;
pub mod timestamp;

/// The most records a batch may have (more: 413).
pub const MAX_RECORDS: usize = 10_000;
/// How many invalid records the answer lists.
pub const MAX_INVALID_LISTED: usize = 100;
