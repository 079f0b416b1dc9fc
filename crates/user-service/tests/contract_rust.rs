//! The contract suite (`tests/contract`) against the Rust service, built in-process on
//! port 0 with a fresh database of the embedded PostgreSQL.

mod support;

async fn target() -> &'static contract_suite::Target {
    support::rust_target().await
}

contract_suite::contract_tests!(target);
