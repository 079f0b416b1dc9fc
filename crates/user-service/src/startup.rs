//! Start-up, split so that tests build the same app on port 0:
//! [`Application::build`] sets everything up and binds; [`Application::run_until_stopped`]
//! serves until SIGTERM/SIGINT has drained it.

use actix_web::dev::Server;
use actix_web::web;

use kit::auth::JwtVerifier;
use kit::config::{Environment, ReadPath};
use kit::db::{Database, DatabaseServer};
use kit::http::server::{SharedState, bind, serve};
use kit::shutdown::{Drain, run_until_stopped};

use crate::process::shedding::ProcessPool;
use crate::settings::Settings;
use crate::store::cache::UserCache;
use crate::store::users::READ_STATEMENTS;
use crate::store::{MIGRATOR, UserStore};
use kit::db::notify::{Event, Listening, listen};
use kit::db::pipelined::PipelinedReader;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub struct Application {
    port: u16,
    server: Server,
    drain_grace: std::time::Duration,
    drain: Drain,
    /// Keeps the embedded PostgreSQL (if any) running as long as the service.
    database_server: DatabaseServer,
    /// The cache's `LISTEN` task, when the cache is on.
    _listening: Option<Listening>,
}

/// Invalidates cached users when any replica's write commits.
fn listen_for_changes(url: String, cache: Arc<UserCache>) -> Listening {
    listen(url, "users_changed", move |event| {
        let cache = cache.clone();
        async move {
            match event {
                Event::Notification(payload) => match Uuid::parse_str(&payload) {
                    Ok(id) => cache.invalidate(id),
                    Err(_) => cache.clear(),
                },
                Event::Gap => cache.clear(),
            }
        }
    })
}

impl Application {
    pub async fn build(
        settings: &Settings,
        environment: Environment,
    ) -> anyhow::Result<Application> {
        let database_server =
            DatabaseServer::from_settings(&settings.database, environment).await?;
        let database = Database::connect_lazy(&database_server.url, &settings.database)?;
        if settings.database.migrate_on_start {
            kit::db::check_reachable(&database_server.url).await?;
            database.migrate(&MIGRATOR).await?;
        }
        let verifier = web::Data::new(JwtVerifier::from_settings(&settings.auth, environment)?);
        // With the cache on, point reads fill it, so they go to the primary: a miss
        // right after a write, read from a lagging replica, would cache the old row for
        // the whole TTL. (The cache takes the read load a replica would have taken.)
        let point_read_url = match &database_server.read_url {
            Some(replica) if !settings.cache.enabled => replica,
            _ => &database_server.url,
        };
        let read_database = match &database_server.read_url {
            Some(url) => Database::connect_lazy(url, &settings.database)?,
            None => database.clone(),
        };
        // `database.read_path = "pool"` is the textbook design a lab compares against: no
        // pipelined reader and no cache, every point read through the SQLx pool.
        let pipelined = settings.database.read_path == ReadPath::Pipelined;
        let reader = if pipelined {
            let reader = Arc::new(PipelinedReader::start(
                point_read_url,
                READ_STATEMENTS,
                &settings.database,
            )?);
            // Serve from the first request on rather than answer 503 while connecting.
            reader.wait_connected(Duration::from_secs(5)).await;
            Some(reader)
        } else {
            None
        };
        let (cache, listening) = if settings.cache.enabled && pipelined {
            let cache = Arc::new(UserCache::new(&settings.cache));
            let listening = listen_for_changes(database_server.url.clone(), cache.clone());
            (Some(cache), Some(listening))
        } else {
            (None, None)
        };
        let store = web::Data::new(UserStore::new(
            database.clone(),
            read_database,
            reader,
            cache,
            settings.database.coalesce,
            settings.database.read_queue_depth * settings.database.read_connections.max(1),
        ));
        // Built here, not a process-wide global: every app (two in one test process, say)
        // sheds on its own load.
        let process_pool = web::Data::new(ProcessPool::from_settings(&settings.process));
        let listener = bind(&settings.server)?;
        let port = listener.local_addr()?.port();
        let drain = Drain::default();
        let shared = SharedState {
            drain: drain.clone(),
            database: Some(database),
        };
        let server = serve(listener, &settings.server, shared, move |config| {
            config
                .app_data(verifier.clone())
                .app_data(store.clone())
                .app_data(process_pool.clone());
            crate::routes::configure(config);
        })?;
        Ok(Application {
            port,
            server,
            drain_grace: std::time::Duration::from_millis(settings.server.drain_grace_ms),
            drain,
            database_server,
            _listening: listening,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the service uses the embedded PostgreSQL.
    pub fn embedded_database(&self) -> Option<&pg_embedded::EmbeddedPostgres> {
        self.database_server.embedded.as_ref()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = run_until_stopped(self.server, self.drain, self.drain_grace).await;
        // The embedded PostgreSQL (if we started it) stops when this drops.
        drop(self.database_server);
        result
    }
}
