//! A second service on the kit: notes that a bearer token's subject writes and reads.
//!
//! `POST /notes` (scope `notes:write`) stores `{"text": "..."}` and answers 201 with the
//! note; `GET /notes/{id}` (scope `notes:read`) answers 200 or 404. Everything else
//! (settings, database, migrations, auth, limits, health, metrics, shutdown) is the kit's.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use kit::ApiError;
use kit::app::Running;
use kit::auth::{Authorized, Scope};
use kit::config::{
    AuthSettings, ConfigError, DatabaseSettings, Environment, LogSettings, ServerSettings, Validate,
};
use kit::db::Database;
use kit::http::json::JsonObject;
use kit::http::{json_response, parse_hyphenated_uuid};
use serde::{Deserialize, Serialize};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// `[notes]`: this service's own section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotesSettings {
    /// The longest note, in characters; longer ones get 422.
    pub max_chars: usize,
}

impl Default for NotesSettings {
    fn default() -> Self {
        NotesSettings { max_chars: 1000 }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub log: LogSettings,
    pub notes: NotesSettings,
}

impl Validate for Settings {
    fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.database.validate()?;
        self.auth.validate()
    }
}

kit::service_settings!(Settings);

pub struct NotesRead;
impl Scope for NotesRead {
    const NAME: &'static str = "notes:read";
    const MISSING: &'static str = "Missing scope notes:read";
}

pub struct NotesWrite;
impl Scope for NotesWrite {
    const NAME: &'static str = "notes:write";
    const MISSING: &'static str = "Missing scope notes:write";
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Note {
    pub id: uuid::Uuid,
    pub author: String,
    pub text: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

async fn create_note(
    writer: Authorized<NotesWrite>,
    body: JsonObject,
    database: web::Data<Database>,
    settings: web::Data<NotesSettings>,
) -> Result<HttpResponse, ApiError> {
    let text = match body.0.get("text") {
        Some(serde_json::Value::String(text)) => text,
        _ => return Err(ApiError::invalid_field("text", "must be a string")),
    };
    if text.trim().is_empty() || text.chars().count() > settings.max_chars {
        return Err(ApiError::invalid_field(
            "text",
            "must be 1 to max_chars characters",
        ));
    }
    let note: Note = database
        .within(async {
            sqlx::query_as("INSERT INTO notes (id, author, text) VALUES ($1, $2, $3) RETURNING *")
                .bind(uuid::Uuid::now_v7())
                .bind(&writer.claims.sub)
                .bind(text)
                .fetch_one(database.pool())
                .await
                .map_err(ApiError::from)
        })
        .await?;
    Ok(json_response(StatusCode::CREATED, &note))
}

async fn get_note(
    _reader: Authorized<NotesRead>,
    id: web::Path<String>,
    database: web::Data<Database>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_hyphenated_uuid(&id).ok_or(ApiError::NotFound("Note not found"))?;
    let note: Option<Note> = database
        .within(async {
            sqlx::query_as("SELECT * FROM notes WHERE id = $1")
                .bind(id)
                .fetch_optional(database.pool())
                .await
                .map_err(ApiError::from)
        })
        .await?;
    let note = note.ok_or(ApiError::NotFound("Note not found"))?;
    Ok(json_response(StatusCode::OK, &note))
}

/// Builds and binds the service; [`Running::run_until_stopped`] serves it.
pub async fn build(settings: &Settings, environment: Environment) -> anyhow::Result<Running> {
    let notes = web::Data::new(settings.notes.clone());
    let running = kit::App::new(settings, environment)
        .migrations(&MIGRATOR)
        .serve(move |config| {
            config
                .app_data(notes.clone())
                .route("/notes", web::post().to(create_note))
                .route("/notes/{id}", web::get().to(get_note));
        })
        .await?;
    Ok(running)
}
