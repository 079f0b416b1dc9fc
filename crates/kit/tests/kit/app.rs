//! What every service gets from `kit::App`, shown once on a test app with one trivial
//! route (started by `kit::testing` on port 0 with a fresh embedded database): health,
//! metrics, the JWT 401/403, the head and body limits from `[server]`, the JSON 404, the
//! OpenAPI hook and the migrations.

use actix_web::{HttpResponse, web};
use kit::app::Running;
use kit::auth::{Authorized, Scope};
use kit::config::{
    AuthSettings, ConfigError, DatabaseSettings, Environment, LogSettings, ServerSettings, Validate,
};
use kit::db::Database;
use kit::http::json::JsonObject;
use serde::{Deserialize, Serialize};

use crate::support::MIGRATOR;

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Settings {
    server: ServerSettings,
    database: DatabaseSettings,
    auth: AuthSettings,
    log: LogSettings,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()
    }
}

kit::service_settings!(Settings);

struct Greet;
impl Scope for Greet {
    const NAME: &'static str = "greet";
    const MISSING: &'static str = "Missing scope greet";
}

/// Stores the body's `name` (so the migration ran) and answers how many names there are.
async fn greet(
    _caller: Authorized<Greet>,
    body: JsonObject,
    database: web::Data<Database>,
) -> Result<HttpResponse, kit::ApiError> {
    let name = body
        .0
        .get("name")
        .and_then(|name| name.as_str())
        .unwrap_or("");
    sqlx::query("INSERT INTO greetings (name) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(name)
        .execute(database.pool())
        .await?;
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM greetings")
        .fetch_one(database.pool())
        .await?;
    Ok(HttpResponse::Ok().body(count.to_string()))
}

fn document() -> &'static str {
    r#"{"openapi":"3.1.0"}"#
}

async fn build(settings: &Settings, environment: Environment) -> anyhow::Result<Running> {
    Ok(kit::App::new(settings, environment)
        .migrations(&MIGRATOR)
        .openapi(document)
        .serve(|config| {
            config.route("/greet", web::post().to(greet));
        })
        .await?)
}

async fn app() -> kit::testing::TestApp {
    kit::testing::spawn(
        &MIGRATOR,
        |settings: &mut Settings| {
            settings.server.body_limit_bytes = 1024;
            settings.server.max_headers = 20;
        },
        build,
    )
    .await
}

#[tokio::test]
async fn health_metrics_openapi_and_not_found_come_with_the_app() {
    let app = app().await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(app.url(path)).send();
    assert_eq!(get("/health/live").await.expect("answers").status(), 200);
    let ready = get("/health/ready").await.expect("answers");
    assert_eq!(ready.status(), 200, "the fresh database answers SELECT 1");
    let openapi = get("/openapi.json").await.expect("answers");
    assert_eq!(openapi.status(), 200);
    assert_eq!(openapi.text().await.expect("a body"), document());
    let missing = get("/nowhere").await.expect("answers");
    assert_eq!(missing.status(), 404);
    assert!(
        missing
            .headers()
            .get("content-type")
            .is_some_and(|value| value.as_bytes().starts_with(b"application/json")),
        "the 404 is the JSON error body"
    );
    let metrics = get("/metrics").await.expect("answers");
    assert_eq!(metrics.status(), 200);
    let metrics = metrics.text().await.expect("a body");
    assert!(
        metrics.contains("http_request_duration_seconds_count")
            && metrics.contains(r#"route="/health/live""#),
        "the requests above are counted by route:\n{metrics}"
    );
}

#[tokio::test]
async fn auth_and_the_configured_limits_are_enforced() {
    let app = app().await;
    let client = reqwest::Client::new();
    let greet = |token: &str, body: String| {
        client
            .post(app.url("/greet"))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let status = |response: reqwest::Result<reqwest::Response>| {
        response.expect("the service answers").status().as_u16()
    };
    let small = r#"{"name":"ada"}"#.to_owned();
    assert_eq!(status(greet("not-a-token", small.clone()).await), 401);
    assert_eq!(status(greet(&app.token("other"), small.clone()).await), 403);
    let ok = greet(&app.token("greet"), small).await.expect("answers");
    assert_eq!(ok.status(), 200);
    assert_eq!(
        ok.text().await.expect("a body"),
        "1",
        "the migrated table took the row"
    );
    // `server.body_limit_bytes = 1024` for this app (the default is 64 KiB).
    let large = format!(r#"{{"name":"{}"}}"#, "x".repeat(2000));
    assert_eq!(status(greet(&app.token("greet"), large).await), 413);
    // `server.max_headers = 20` (the default is 64).
    let mut request = client.get(app.url("/health/live"));
    for index in 0..25 {
        request = request.header(format!("x-extra-{index}"), "1");
    }
    assert_eq!(status(request.send().await), 431);
}
