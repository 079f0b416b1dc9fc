//! The subcommands other than `serve`.

pub mod seed;
pub mod token;
