//! The parsers of untrusted request input, apart from the service so that they can be
//! fuzzed with a short instrumented build (`fuzz/`, see `docs/fuzzing.md`):
//!
//! - [`process`]: the one-pass `/api/v1/process` body parser and its field checks;
//! - [`cursor`]: the opaque list cursor;
//! - [`email`]: the contract's email grammar;
//! - [`bearer`]: the token of an `Authorization` header;
//! - [`id`]: an id in the hyphenated UUID form.

pub mod bearer;
pub mod cursor;
pub mod email;
pub mod id;
pub mod process;
