//! The HTTP server every service runs: our middleware stack, the shared routes, and
//! the server settings of the contract.
//!
//! Middleware, outermost first: request id → span and metrics → `Connection: close`
//! while draining → head limits → the service's routes. Shared routes: `/health/live`,
//! `/health/ready`, `/metrics`. Unknown paths get the JSON 404.
//!
//! Server settings (`[server]`): `workers`, `keep_alive_secs`, `head_timeout_ms` (a head
//! not received in time gets 408 and the connection closes), `drain_timeout_secs`.
//! Signals are ours (see `shutdown`), not actix's, so readiness turns 503 first.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, HttpServer, web};

use crate::ApiError;
use crate::config::ServerSettings;
use crate::db::Database;
use crate::shutdown::{Drain, close_connections_while_draining};
use crate::{health, metrics};

use super::{limits, observe, request_id};

/// What the shared routes need, given to every worker.
#[derive(Clone)]
pub struct SharedState {
    pub drain: Drain,
    pub database: Option<Database>,
}

/// A resource that answers other methods than GET with the JSON 405.
pub fn get_only(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(limits::method_not_allowed("GET"))
}

/// Binds `host:port` (port 0 picks a free one).
pub fn bind(settings: &ServerSettings) -> std::io::Result<TcpListener> {
    let host = if settings.host == "localhost" {
        "127.0.0.1"
    } else {
        settings.host.as_str()
    };
    TcpListener::bind((host, settings.port))
}

/// Starts serving on `listener`; `configure` adds the service's routes and app data.
pub fn serve<F>(
    listener: TcpListener,
    settings: &ServerSettings,
    shared: SharedState,
    configure: F,
) -> std::io::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
{
    // Touch the recorder now, so the first request does not pay for installing it.
    let _ = metrics::handle();
    let workers = if settings.workers == 0 {
        std::thread::available_parallelism().map_or(1, |cores| cores.get())
    } else {
        settings.workers
    };
    let telemetry = settings.request_telemetry;
    let drain = web::Data::new(shared.drain);
    let database = shared.database.map(web::Data::new);
    let server = HttpServer::new(move || {
        let mut app = App::new().app_data(drain.clone()).app_data(
            web::QueryConfig::default()
                .error_handler(|_, _| ApiError::BadRequest("Invalid query string".into()).into()),
        );
        if let Some(database) = &database {
            app = app.app_data(database.clone());
        }
        app.service(get_only("/health/live").route(web::get().to(health::live)))
            .service(get_only("/health/ready").route(web::get().to(health::ready)))
            .service(get_only("/metrics").route(web::get().to(metrics::render)))
            .configure(configure.clone())
            .default_service(web::to(limits::not_found))
            .wrap(from_fn(limits::head_limits))
            .wrap(from_fn(close_connections_while_draining))
            .wrap(Condition::new(telemetry, from_fn(observe::middleware)))
            .wrap(Condition::new(telemetry, from_fn(request_id::middleware)))
    })
    .workers(workers)
    .keep_alive(Duration::from_secs(settings.keep_alive_secs))
    .client_request_timeout(Duration::from_millis(settings.head_timeout_ms))
    // The grace period (see `shutdown`) is spent before the server is told to stop.
    .shutdown_timeout(
        settings
            .drain_timeout_secs
            .saturating_sub(settings.drain_grace_ms.div_ceil(1000))
            .max(1),
    )
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
