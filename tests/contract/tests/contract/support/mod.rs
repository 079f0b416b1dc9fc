//! The implementations the cross-implementation tests run against, one of each per test
//! binary, each on its own fresh database of the same embedded PostgreSQL: the Rust app
//! built in-process ([`rust`]), and the Node baseline as a real process ([`node`]).

pub mod node;
pub mod rust;

/// The secret both implementations check the suite's tokens against.
pub const JWT_SECRET: &str = "contract-suite-secret-0123456789abcdef";
