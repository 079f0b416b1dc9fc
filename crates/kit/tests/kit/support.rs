//! What the kit's tests share: the test app's migrations (one `greetings` table).

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./tests/app_migrations");
