//! The in-process binary's support: the app built on port 0 against a test's own
//! database, and what every test binary shares (`tests/support/users.rs`).

#[path = "../support/users.rs"]
mod users;

use users::JWT_SECRET;

pub use users::{create_user_at, token};

/// The app built in-process on port 0 against `database_url` (`kit::testing`), served
/// from this test's runtime; `adjust` changes settings first. Returns the base URL.
pub async fn spawn_app(
    database_url: &str,
    adjust: impl FnOnce(&mut user_service::settings::Settings),
) -> String {
    let with_secret = |settings: &mut user_service::settings::Settings| {
        settings.auth.jwt_secret = Some(JWT_SECRET.into());
        adjust(settings);
    };
    kit::testing::spawn_on(database_url, with_secret, user_service::startup::build)
        .await
        .base_url
}
