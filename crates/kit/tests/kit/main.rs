//! The kit's integration tests, one binary: what every service gets from `kit::App`
//! ([`app`], in process) and its graceful shutdown under a real SIGTERM ([`drain`], this
//! binary run again as the service). `tests/otel_inject.rs` is the one other binary: it
//! sets process-wide state (the environment and the OTel exporter).

mod app;
mod drain;
mod support;
