//! Graceful shutdown.
//!
//! On SIGTERM or SIGINT: readiness turns 503 at once ([`Drain`]) and every response from
//! then on carries `Connection: close` (keep-alive clients leave after their in-flight
//! request). For `server.drain_grace_ms` the service still accepts and serves, so load
//! balancers polling readiness take it out of rotation before connections are refused.
//! Then the listener closes, idle keep-alive connections close, in-flight requests
//! finish, and the process exits 0 — within `server.drain_timeout_secs`, after which
//! what is left is dropped.
//!
//! Last, the spans still queued for export (feature `otel`) are sent, for at most
//! [`TELEMETRY_FLUSH`]: the service calls `TelemetryGuard::shutdown` after
//! [`run_until_stopped`] returns.
//!
//! A second SIGTERM or SIGINT during the drain (an operator who does not want to wait)
//! ends it at once: [`run_until_stopped`] returns [`SecondSignal`], and the service
//! exits non-zero.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web;

/// How long the end of the drain waits for the last spans to reach the OTLP endpoint.
pub const TELEMETRY_FLUSH: Duration = Duration::from_secs(5);

/// Whether the service is draining; shared by the readiness probe and the middleware.
#[derive(Clone, Debug, Default)]
pub struct Drain(Arc<AtomicBool>);

impl Drain {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Middleware: `Connection: close` on every response while draining.
pub async fn close_connections_while_draining(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let drain = request.app_data::<web::Data<Drain>>().cloned();
    let mut response = next.call(request).await?;
    if drain.is_some_and(|drain| drain.is_draining()) {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    Ok(response)
}

/// The termination signals, listened for from start-up on (so that none is missed).
struct TerminationSignals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

impl TerminationSignals {
    fn listen() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(TerminationSignals {
            terminate: signal(SignalKind::terminate())?,
            interrupt: signal(SignalKind::interrupt())?,
        })
    }

    /// Resolves on the next SIGTERM or SIGINT.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

/// Why a drain did not finish: a second termination signal came first.
#[derive(Debug, thiserror::Error)]
#[error("{0} during the drain: stopped without waiting for requests in flight")]
pub struct SecondSignal(pub &'static str);

/// Runs `server` until a termination signal has drained it. The server's own shutdown
/// timeout must be the drain timeout less `grace` (see `http::server::serve`). A second
/// signal during the drain returns at once with [`SecondSignal`] (as an `io::Error`).
pub async fn run_until_stopped(
    server: Server,
    drain: Drain,
    grace: Duration,
) -> std::io::Result<()> {
    let mut signals = TerminationSignals::listen()?;
    let handle = server.handle();
    let mut server = std::pin::pin!(server);
    let signal = tokio::select! {
        result = &mut server => return result,
        signal = signals.next() => signal,
    };
    tracing::info!(signal, "draining: readiness is now 503");
    drain.start();
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(grace).await;
        handle.stop(true).await;
    });
    let result = tokio::select! {
        result = &mut server => result,
        second = signals.next() => {
            tracing::warn!(signal = second, "second signal during the drain: stopping now");
            Err(std::io::Error::other(SecondSignal(second)))
        }
    };
    stopper.abort();
    result
}
