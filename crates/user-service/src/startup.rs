//! Start-up: the kit's [`kit::App`] (settings, database, migrations, auth, the shared
//! routes, shutdown) plus what is the user-service's own: the pipelined reader, the
//! cache and its `LISTEN`, the store. Tests build the same app on port 0
//! (`kit::testing`).

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use kit::app::Running;
use kit::config::Environment;
use kit::db::Database;
use kit::db::notify::{Event, Listening, listen};
use kit::db::pipelined::PipelinedReader;
use uuid::Uuid;

use crate::process::shedding::ProcessPool;
use crate::settings::{ReadPath, Settings};
use crate::store::cache::UserCache;
use crate::store::users::READ_STATEMENTS;
use crate::store::{MIGRATOR, UserStore};

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

/// Builds and binds the service; [`Running::run_until_stopped`] serves it.
pub async fn build(settings: &Settings, environment: Environment) -> anyhow::Result<Running> {
    let connected = kit::App::new(settings, environment)
        .migrations(&MIGRATOR)
        .openapi(crate::routes::openapi::document)
        .connect()
        .await?;
    let urls = connected.database_server();
    // With the cache on, point reads fill it, so they go to the primary: a miss right
    // after a write, read from a lagging replica, would cache the old row for the whole
    // TTL. (The cache takes the read load a replica would have taken.)
    let point_read_url = match &urls.read_url {
        Some(replica) if !settings.cache.enabled => replica,
        _ => &urls.url,
    };
    let read_database = match &urls.read_url {
        Some(url) => Database::connect_lazy(url, &settings.database.shared)?,
        None => connected.database().clone(),
    };
    // `database.read_path = "pool"` is the textbook design a lab compares against: no
    // pipelined reader and no cache, every point read through the SQLx pool.
    let pipelined = settings.database.read_path == ReadPath::Pipelined;
    tracing::info!(
        read_path = ?settings.database.read_path,
        coalesce = settings.database.coalesce,
        "point reads and writes",
    );
    let reader = if pipelined {
        let reader = Arc::new(PipelinedReader::start(
            point_read_url,
            READ_STATEMENTS,
            &settings.database.shared,
        )?);
        // Serve from the first request on rather than answer 503 while connecting.
        reader.wait_connected(Duration::from_secs(5)).await;
        Some(reader)
    } else {
        None
    };
    let (cache, listening) = if settings.cache.enabled && pipelined {
        let cache = Arc::new(UserCache::new(&settings.cache));
        let listening = listen_for_changes(urls.url.clone(), cache.clone());
        (Some(cache), Some(listening))
    } else {
        (None, None)
    };
    let store = web::Data::new(
        UserStore::new(
            connected.database().clone(),
            read_database,
            reader,
            cache,
            settings.database.coalesce,
            settings.database.shared.read_queue_depth
                * settings.database.shared.read_connections.max(1),
        )
        .hedging_reads_after(
            Duration::from_millis(settings.database.shared.read_hedge_ms),
            // Half the pool: the writes keep the rest.
            (settings.database.shared.pool_size as usize / 2).max(1),
        ),
    );
    // Built here, not a process-wide global: every app (two in one test process, say)
    // sheds on its own load.
    let process_pool = web::Data::new(ProcessPool::from_settings(&settings.process));
    let running = connected.serve(move |config| {
        config
            .app_data(store.clone())
            .app_data(process_pool.clone());
        crate::routes::configure(config);
    })?;
    Ok(running.keep(listening))
}
