//! `notes`: serve the notes API (run it from `examples/notes`, where its config and data
//! directories are). Without DATABASE_URL it runs an embedded PostgreSQL.

use kit::config::ServiceSettings;
use notes::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (settings, environment) = Settings::load()?;
    kit::app::run("notes", settings, environment, notes::build).await
}
