//! Persistence of users in PostgreSQL.

mod batch;
pub mod cache;
pub mod changes;
pub mod creates;
pub use parsing::cursor;
pub mod users;

pub use users::{CreateOutcome, StoreError, UserStore};

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
