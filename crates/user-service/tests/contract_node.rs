//! The contract suite (`tests/contract`) against the Node baseline (`node src/main.js`,
//! 2 cluster workers) on a fresh database of the same embedded PostgreSQL, and the
//! cross-implementation checks: the same requests to the Rust service and to the
//! baseline must get the same answers (byte-identical `/api/v1/process` bodies).
//!
//! Needs `node` on the PATH and `npm ci` run in `baselines/node`; fails otherwise.

mod support;

async fn target() -> &'static contract_suite::Target {
    support::node_target().await
}

contract_suite::contract_tests!(target);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_process_bodies_are_byte_identical() {
    let rust = support::rust_target().await;
    let node = support::node_target().await;
    contract_suite::cross::process_identical(rust, node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_error_responses_are_identical() {
    let rust = support::rust_target().await;
    let node = support::node_target().await;
    contract_suite::cross::error_responses_identical(rust, node).await;
}
