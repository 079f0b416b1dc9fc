//! One builder for a service on the kit: settings in, a running server out.
//!
//! ```ignore
//! let running = kit::App::new(&settings, environment)
//!     .migrations(&MIGRATOR)
//!     .serve(routes)
//!     .await?;
//! running.run_until_stopped().await?;
//! ```
//!
//! [`App::connect`] finds the database (the configured `DATABASE_URL`, else the embedded
//! PostgreSQL outside production), opens the SQLx pool, applies the migrations when
//! `database.migrate_on_start`, and builds the JWT verifier when the settings have an
//! `[auth]` section. [`Connected::serve`] binds `server.host:server.port` (0: a free
//! port) and serves the service's routes behind the kit's middleware, with
//! `/health/live`, `/health/ready`, `/metrics` and, when given, `/openapi.json`.
//! [`Running::run_until_stopped`] serves until SIGTERM/SIGINT has drained it (see
//! `shutdown`). [`run`] is a service's `main`: settings, logs, build, serve.
//!
//! A service that needs more than the pool (the user-service's pipelined reader and
//! cache) calls `connect`, builds its parts from [`Connected::database_server`] and
//! [`Connected::database`], then `serve`s; what must live as long as the server goes to
//! [`Running::keep`].

use std::any::Any;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::web;
use anyhow::Context;
use sqlx::migrate::Migrator;

#[cfg(feature = "jwt")]
use crate::auth::{AuthSetupError, JwtVerifier};
use crate::config::{Environment, ServiceSettings};
use crate::db::{Database, DatabaseServer, DbError};
use crate::http::server::{SharedState, bind, get_only, serve};
use crate::shutdown::{Drain, run_until_stopped};

/// Why a service could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[cfg(feature = "jwt")]
    #[error(transparent)]
    Auth(#[from] AuthSetupError),
    #[error("listening on {address}: {source}")]
    Listen {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// The builder: the service's settings, its migrations and its OpenAPI document.
pub struct App<'a, S: ServiceSettings> {
    settings: &'a S,
    environment: Environment,
    migrator: Option<&'static Migrator>,
    openapi: Option<fn() -> &'static str>,
}

impl<'a, S: ServiceSettings> App<'a, S> {
    pub fn new(settings: &'a S, environment: Environment) -> Self {
        App {
            settings,
            environment,
            migrator: None,
            openapi: None,
        }
    }

    /// The service's migrations, applied at start when `database.migrate_on_start`.
    pub fn migrations(mut self, migrator: &'static Migrator) -> Self {
        self.migrator = Some(migrator);
        self
    }

    /// Serves `document()` as `GET /openapi.json`.
    pub fn openapi(mut self, document: fn() -> &'static str) -> Self {
        self.openapi = Some(document);
        self
    }

    /// The database (embedded when no URL), its migrations, and the JWT verifier.
    pub async fn connect(self) -> Result<Connected<'a, S>, AppError> {
        let settings = self.settings.database();
        let database_server = DatabaseServer::from_settings(settings, self.environment).await?;
        let database = Database::connect_lazy(&database_server.url, settings)?;
        if let Some(migrator) = self.migrator
            && settings.migrate_on_start
        {
            crate::db::check_reachable(&database_server.url).await?;
            database.migrate(migrator).await?;
        }
        #[cfg(feature = "jwt")]
        let verifier = match self.settings.auth() {
            Some(auth) => Some(web::Data::new(JwtVerifier::from_settings(
                auth,
                self.environment,
            )?)),
            None => None,
        };
        Ok(Connected {
            app: self,
            database_server,
            database,
            #[cfg(feature = "jwt")]
            verifier,
        })
    }

    /// [`App::connect`], then [`Connected::serve`].
    pub async fn serve<F>(self, routes: F) -> Result<Running, AppError>
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        self.connect().await?.serve(routes)
    }
}

/// A service whose database is ready and whose routes are still to come.
pub struct Connected<'a, S: ServiceSettings> {
    app: App<'a, S>,
    database_server: DatabaseServer,
    database: Database,
    #[cfg(feature = "jwt")]
    verifier: Option<web::Data<JwtVerifier>>,
}

impl<S: ServiceSettings> Connected<'_, S> {
    /// Where the database is (its URLs, the embedded server if any).
    pub fn database_server(&self) -> &DatabaseServer {
        &self.database_server
    }

    /// The SQLx pool to the primary (also app data of every route).
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Binds and starts serving `routes` (they find the pool, and the verifier when
    /// there is one, in app data).
    pub fn serve<F>(self, routes: F) -> Result<Running, AppError>
    where
        F: Fn(&mut web::ServiceConfig) + Send + Clone + 'static,
    {
        let settings = self.app.settings.server();
        let listen_error = |source| AppError::Listen {
            address: format!("{}:{}", settings.host, settings.port),
            source,
        };
        let listener = bind(settings).map_err(listen_error)?;
        let port = listener.local_addr().map_err(listen_error)?.port();
        let drain = Drain::default();
        let shared = SharedState {
            drain: drain.clone(),
            database: Some(self.database),
        };
        #[cfg(feature = "jwt")]
        let verifier = self.verifier;
        let openapi = self.app.openapi;
        let server = serve(listener, settings, shared, move |config| {
            #[cfg(feature = "jwt")]
            if let Some(verifier) = &verifier {
                config.app_data(verifier.clone());
            }
            if let Some(document) = openapi {
                config.service(get_only("/openapi.json").route(web::get().to(move || {
                    std::future::ready(crate::http::rendered_json_response(
                        actix_web::http::StatusCode::OK,
                        web::Bytes::from_static(document().as_bytes()),
                    ))
                })));
            }
            routes(config);
        })
        .map_err(listen_error)?;
        Ok(Running {
            port,
            server,
            drain,
            drain_grace: Duration::from_millis(settings.drain_grace_ms),
            database_server: self.database_server,
            kept: Vec::new(),
        })
    }
}

/// A bound, serving service.
pub struct Running {
    port: u16,
    server: Server,
    drain: Drain,
    drain_grace: Duration,
    /// Keeps the embedded PostgreSQL (if any) running as long as the service.
    database_server: DatabaseServer,
    /// What the service asked to keep alive as long as the server (background tasks).
    kept: Vec<Box<dyn Any + Send>>,
}

impl Running {
    /// The port bound (the one picked when `server.port` is 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the database is.
    pub fn database_server(&self) -> &DatabaseServer {
        &self.database_server
    }

    /// Keeps `guard` alive until the server has stopped.
    pub fn keep(mut self, guard: impl Any + Send) -> Self {
        self.kept.push(Box::new(guard));
        self
    }

    /// Serves until SIGTERM/SIGINT has drained the server; then stops the embedded
    /// PostgreSQL, if it was ours.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = run_until_stopped(self.server, self.drain, self.drain_grace).await;
        drop(self.kept);
        drop(self.database_server);
        result
    }
}

/// A service's `main` after its settings are loaded: logs, `build`, a line saying where
/// it listens, then serve until drained.
pub async fn run<S, F>(
    name: &str,
    settings: S,
    environment: Environment,
    build: F,
) -> anyhow::Result<()>
where
    S: ServiceSettings,
    F: AsyncFnOnce(&S, Environment) -> anyhow::Result<Running>,
{
    let telemetry = crate::telemetry::init(settings.log())?;
    let running = build(&settings, environment)
        .await
        .context("starting the service")?;
    tracing::info!(
        url = format!("http://{}:{}", settings.server().host, running.port()),
        database = running.database_server().describe(),
        environment = environment.as_str(),
        config = %crate::config::describe_config_dir(&S::config_dir()),
        "{name} is listening",
    );
    let drained = running.run_until_stopped().await;
    // The spans of the last requests, still queued, go out before the process ends.
    telemetry.shutdown(crate::shutdown::TELEMETRY_FLUSH);
    drained?;
    tracing::info!("drained; bye");
    Ok(())
}
