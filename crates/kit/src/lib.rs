//! The service kit: what every service of ours shares, so that a second service is a
//! page of code and not a copy of the first.
//!
//! - [`app`]: the one builder, [`App`]: settings in, a running service out;
//! - [`config`]: layered settings (files, `APP_*` and the plain runtime variables);
//! - [`telemetry`]: `tracing` set-up, JSON or pretty;
//! - [`http`]: request ids, spans and metrics, limits, JSON bodies, the server;
//! - [`error`]: the error type and its contract body;
//! - [`auth`]: bearer JWTs and scopes;
//! - [`db`]: the pool, migrations, the embedded PostgreSQL of `pg-embedded` when no
//!   server is configured (and test databases);
//! - [`health`], [`shutdown`], [`metrics`];
//! - `otel` (feature `otel`): OTLP export of the request and database spans, W3C trace
//!   context in and out (`docs/observability.md`).
//! - `testing` (feature `testing`): the app on port 0 with a fresh database, in one call.
//!
//! Optional parts are Cargo features (see `README.md`): `jwt`, `pipelined`,
//! `embedded-postgres` (all default), `testing`, `otel` and `console`.

pub mod app;
#[cfg(feature = "jwt")]
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod health;
pub mod http;
pub mod metrics;
#[cfg(feature = "otel")]
pub mod otel;
pub mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::App;
pub use error::ApiError;
