//! Graceful shutdown.
//!
//! On SIGTERM or SIGINT: readiness turns 503 at once ([`Drain`]) and every response from
//! then on carries `Connection: close` (keep-alive clients leave after their in-flight
//! request). For `server.drain_grace_ms` the service still accepts and serves, so load
//! balancers polling readiness take it out of rotation before connections are refused.
//! Then the listener closes, idle keep-alive connections close, in-flight requests
//! finish, and the process exits 0 — within `server.drain_timeout_secs`, after which
//! what is left is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web;

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

/// Resolves on SIGTERM or SIGINT.
pub async fn termination_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = interrupt.recv() => "SIGINT",
    })
}

/// Runs `server` until a termination signal has drained it. The server's own shutdown
/// timeout must be the drain timeout less `grace` (see `http::server::serve`).
pub async fn run_until_stopped(
    server: Server,
    drain: Drain,
    grace: Duration,
) -> std::io::Result<()> {
    let handle = server.handle();
    let watcher = tokio::spawn(async move {
        match termination_signal().await {
            Ok(signal) => tracing::info!(signal, "draining: readiness is now 503"),
            Err(error) => {
                tracing::error!(%error, "cannot listen for termination signals");
                return;
            }
        }
        drain.start();
        tokio::time::sleep(grace).await;
        handle.stop(true).await;
    });
    let result = server.await;
    watcher.abort();
    result
}
