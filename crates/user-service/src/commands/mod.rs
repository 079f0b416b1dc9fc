//! The subcommands other than `serve`.

pub mod process_batch;
pub mod seed;
pub mod token;
