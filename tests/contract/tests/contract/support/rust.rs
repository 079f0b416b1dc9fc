//! The Rust user-service, built in-process on port 0 (`kit::testing`).

use std::sync::OnceLock;

use contract_suite::Target;
use user_service::settings::Settings;
use user_service::store::MIGRATOR;

use super::JWT_SECRET;

/// The Rust service, started once, serving from its own thread and runtime (a server
/// spawned on one test's runtime would die with that test).
pub async fn rust_target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let app = kit::testing::spawn_on_own_thread(
            &MIGRATOR,
            |settings: &mut Settings| settings.auth.jwt_secret = Some(JWT_SECRET.into()),
            user_service::startup::build,
        );
        Target {
            name: "rust".into(),
            base_url: app.base_url,
            jwt_secret: JWT_SECRET.into(),
        }
    })
}
