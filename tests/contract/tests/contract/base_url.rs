//! The contract suite against a server that is already running:
//!
//! ```sh
//! CONTRACT_BASE_URL=http://127.0.0.1:3000 CONTRACT_JWT_SECRET=$JWT_SECRET \
//!     cargo test -p contract-suite --test contract base_url:: -- --ignored
//! ```
//!
//! Ignored by default (it needs that server); CI runs the suite through
//! `crates/user-service/tests/service/contract_rust.rs` and
//! `tests/contract/tests/contract/contract_node.rs`, which start the servers.

use std::sync::OnceLock;

use contract_suite::Target;

async fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let base_url = std::env::var("CONTRACT_BASE_URL")
            .expect("set CONTRACT_BASE_URL (e.g. http://127.0.0.1:3000)");
        let jwt_secret = std::env::var("CONTRACT_JWT_SECRET")
            .expect("set CONTRACT_JWT_SECRET to the server's HS256 secret");
        Target {
            name: std::env::var("CONTRACT_NAME").unwrap_or_else(|_| "target".into()),
            base_url: base_url.trim_end_matches('/').to_string(),
            jwt_secret,
        }
    })
}

contract_suite::contract_tests!(target, ignored);
