//! An embedded PostgreSQL started from the machine's own server binaries, and the process
//! helpers every part of the project that starts servers needs (the service kit, ferry's
//! lab, the tests), written once:
//!
//! - [`EmbeddedPostgres`]: a persistent or throwaway cluster ([`postgres`]);
//! - [`spawn_tied`]: child processes that get a signal when we die ([`child`]);
//! - [`free_port`]: a loopback port nothing listens on ([`port`]);
//! - [`wait_ready`] and [`http_status`]: polling a starting child until it answers
//!   ([`ready`]);
//! - [`tail`]: the end of a log file, for error messages ([`log_tail`]);
//! - [`with_database`]: a PostgreSQL URL naming another database ([`database_url`]).
//!
//! It links no database driver and no web framework, so a CLI can use it without building
//! either.

pub mod child;
pub mod database_url;
pub mod log_tail;
pub mod port;
pub mod postgres;
pub mod ready;

pub use child::spawn_tied;
pub use database_url::with_database;
pub use log_tail::tail;
pub use port::free_port;
pub use postgres::{EmbeddedError, EmbeddedOptions, EmbeddedPostgres, find_bin_dir};
pub use ready::{Readiness, http_status, wait_ready};
