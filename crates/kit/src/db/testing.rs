//! Test databases: one throwaway cluster per test process, one migrated template
//! database in it, and a fresh database cloned from the template for every test, so
//! tests run in parallel without seeing each other's rows.
//!
//! With `DATABASE_URL` set, that server is used instead of an embedded cluster (its
//! user must be allowed to create databases).

use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::OnceCell;

use pg_embedded::{EmbeddedPostgres, with_database};

/// The server tests run against, started once per process.
struct SharedServer {
    /// The URL of the maintenance database (`postgres`).
    admin_url: String,
    /// Keeps the embedded cluster alive for the whole process.
    _embedded: Option<EmbeddedPostgres>,
}

static SERVER: OnceCell<SharedServer> = OnceCell::const_new();
static TEMPLATE: OnceCell<String> = OnceCell::const_new();
const TEMPLATE_NAME: &str = "kit_test_template";

async fn server() -> &'static SharedServer {
    SERVER
        .get_or_init(|| async {
            match std::env::var("DATABASE_URL") {
                Ok(url) if !url.is_empty() => SharedServer {
                    admin_url: url,
                    _embedded: None,
                },
                _ => {
                    let embedded = EmbeddedPostgres::throwaway()
                        .await
                        .unwrap_or_else(|error| panic!("tests need PostgreSQL: {error}"));
                    SharedServer {
                        admin_url: embedded.url("postgres"),
                        _embedded: Some(embedded),
                    }
                }
            }
        })
        .await
}

/// A new, empty, migrated database for one test; returns its URL.
pub async fn fresh_database(migrator: &'static Migrator) -> String {
    let server = server().await;
    TEMPLATE
        .get_or_init(|| async {
            let mut admin = PgConnection::connect(&server.admin_url)
                .await
                .expect("the test server accepts connections: it was just started");
            admin
                .execute(format!("DROP DATABASE IF EXISTS {TEMPLATE_NAME} WITH (FORCE)").as_str())
                .await
                .expect("dropping a stale template database");
            admin
                .execute(format!("CREATE DATABASE {TEMPLATE_NAME}").as_str())
                .await
                .expect("creating the template database");
            let template_url = with_database(&server.admin_url, TEMPLATE_NAME);
            let mut template = PgConnection::connect(&template_url)
                .await
                .expect("connecting to the new template database");
            migrator
                .run(&mut template)
                .await
                .expect("migrations apply to an empty database");
            // A template must have no other sessions when it is cloned.
            template
                .close()
                .await
                .expect("closing the template connection");
            template_url
        })
        .await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&server.admin_url)
        .await
        .expect("the test server accepts connections");
    admin
        .execute(format!("CREATE DATABASE {name} TEMPLATE {TEMPLATE_NAME}").as_str())
        .await
        .expect("cloning the template database");
    let _ = admin.close().await;
    with_database(&server.admin_url, &name)
}
