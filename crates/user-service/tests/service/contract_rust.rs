//! The contract suite (`tests/contract`) against the Rust service, built in-process on
//! port 0 with a fresh database of the embedded PostgreSQL. The runs against the Node
//! baseline and across implementations live with the suite (`tests/contract/tests/`), so
//! that this crate's tests need no Node.js.

use std::sync::OnceLock;

use contract_suite::Target;
use user_service::settings::Settings;
use user_service::store::MIGRATOR;

const JWT_SECRET: &str = "contract-suite-secret-0123456789abcdef";

/// The Rust service, started once (`kit::testing`), serving from its own thread and
/// runtime (a server spawned on one test's runtime would die with that test).
async fn target() -> &'static Target {
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

contract_suite::contract_tests!(target);
