//! The HTTP server every service runs: our middleware stack, the shared routes, and
//! the server settings of the contract.
//!
//! Middleware, outermost first: head deadlines (`head_deadline`) → request telemetry (id,
//! span and metrics: `request_telemetry`) → `Connection: close` while draining → head
//! limits → the service's routes.
//! Shared routes: `/health/live`, `/health/ready`, `/metrics`. Unknown paths get the
//! JSON 404.
//!
//! Server settings (`[server]`, see `config::ServerSettings`): workers, keep-alive, the
//! head and body deadlines, the head and body limits, the body budget, the connection cap and backlog, the
//! lingering close, the drain. Signals are ours (see `shutdown`), not actix's, so
//! readiness turns 503 first.
//!
//! The server is assembled from actix-server and actix-http rather than by
//! `actix_web::HttpServer`, because `HttpServer` serves a bare `TcpStream` and the head
//! deadline of every request needs a wrapper around the accepted socket. The one thing
//! lost is the `AppConfig` host (`ConnectionInfo::host` falls back to `localhost:8080`
//! when a request has no `Host`), which nothing of ours reads.

use std::net::TcpListener;
use std::time::Duration;

use actix_http::HttpService;
use actix_http::error::DispatchError;
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::middleware::{Condition, from_fn};
use actix_web::{App, web};
use socket2::{Domain, Socket, Type};

use crate::ApiError;
use crate::config::ServerSettings;
use crate::db::Database;
use crate::shutdown::{Drain, close_connections_while_draining};
use crate::{health, metrics};

use super::body_budget::BodyBudget;
use super::head_deadline::{ConnectionClock, DeadlineStream, track_requests};
use super::json::{BodyDeadline, BodyLimit};
use super::limits::HeadLimits;
use super::request_telemetry::RequestTelemetry;
use super::{body_memory, connection_cap, limits};

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

/// Binds `host:port` (port 0 picks a free one) with the configured backlog.
pub fn bind(settings: &ServerSettings) -> std::io::Result<TcpListener> {
    let host = if settings.host == "localhost" {
        "127.0.0.1"
    } else {
        settings.host.as_str()
    };
    let address = std::net::ToSocketAddrs::to_socket_addrs(&(host, settings.port))?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} resolves to no address")))?;
    let socket = Socket::new(Domain::for_address(address), Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(settings.backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Starts serving on `listener`; `configure` adds the service's routes and app data.
/// Raises the descriptor limit first (see `connection_cap`) and fixes the allocator's
/// mmap threshold (see `body_memory`).
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
    let descriptor_limit = connection_cap::raise_descriptor_limit()?;
    body_memory::return_large_blocks_to_the_os();
    let per_worker =
        connection_cap::per_worker(settings.max_connections, descriptor_limit, workers);
    tracing::debug!(
        descriptor_limit,
        connections = per_worker * workers,
        "connection cap"
    );
    let local_addr = listener.local_addr()?;
    let drain = web::Data::new(shared.drain);
    let database = shared.database.map(web::Data::new);
    let readiness = web::Data::new(health::Readiness::default());
    let budget = web::Data::from(BodyBudget::new(settings.body_budget_bytes));
    let body_deadline = web::Data::new(BodyDeadline {
        grace: Duration::from_millis(settings.body_timeout_ms),
        min_bytes_per_sec: settings.body_min_bytes_per_sec,
    });
    let head_limits = web::Data::new(HeadLimits {
        max_bytes: settings.max_head_bytes,
        max_headers: settings.max_headers,
    });
    let body_limit = web::Data::new(BodyLimit(settings.body_limit_bytes));
    let app = move || {
        let mut app =
            App::new()
                .app_data(drain.clone())
                .app_data(readiness.clone())
                .app_data(budget.clone())
                .app_data(body_deadline.clone())
                .app_data(head_limits.clone())
                .app_data(body_limit.clone())
                .app_data(web::QueryConfig::default().error_handler(|_, _| {
                    ApiError::BadRequest("Invalid query string".into()).into()
                }));
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
            .wrap(Condition::new(telemetry, RequestTelemetry))
            .wrap(from_fn(track_requests))
    };
    let keep_alive = Duration::from_secs(settings.keep_alive_secs);
    let head_timeout = Duration::from_millis(settings.head_timeout_ms);
    let linger = Duration::from_millis(settings.linger_ms);
    let server = Server::build()
        .workers(workers)
        .max_concurrent_connections(per_worker)
        // The grace period (see `shutdown`) is spent before the server is told to stop.
        .shutdown_timeout(
            settings
                .drain_timeout_secs
                .saturating_sub(settings.drain_grace_ms.div_ceil(1000))
                .max(1),
        )
        .disable_signals()
        .listen("http", listener, move || {
            let app = app.clone();
            fn_service(move |io: tokio::net::TcpStream| {
                let peer = io.peer_addr().ok();
                let stream =
                    DeadlineStream::new(io, ConnectionClock::new(head_timeout, keep_alive));
                std::future::ready(Ok::<_, DispatchError>((stream, peer)))
            })
            .and_then(
                HttpService::build()
                    .keep_alive(keep_alive)
                    .client_request_timeout(head_timeout)
                    .client_disconnect_timeout(linger)
                    .local_addr(local_addr)
                    .on_connect_ext(|stream: &DeadlineStream, data| {
                        data.insert(stream.clock());
                    })
                    .h1(map_config(
                        app()
                            .into_factory()
                            .map_err(|error: actix_web::Error| error.error_response()),
                        |_| AppConfig::default(),
                    )),
            )
        })?
        .run();
    Ok(server)
}
