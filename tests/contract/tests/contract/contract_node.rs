//! The contract suite (`tests/contract`) against the Node baseline (`node src/main.js`,
//! 2 cluster workers) on a fresh database of the same embedded PostgreSQL, and the
//! cross-implementation checks: the same requests to the Rust service and to the
//! baseline must get the same answers (byte-identical `/api/v1/process` bodies).
//!
//! Needs Node.js 20+ on the PATH and `npm ci` run in `baselines/node`; without them each
//! test fails with a message naming what is missing and the fix (`support::node`).

use crate::support::node::node_target;
use crate::support::rust::rust_target;

async fn target() -> &'static contract_suite::Target {
    node_target().await
}

contract_suite::contract_tests!(target);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_process_bodies_are_byte_identical() {
    let rust = rust_target().await;
    let node = node_target().await;
    contract_suite::cross::process_identical(rust, node).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_error_responses_are_identical() {
    let rust = rust_target().await;
    let node = node_target().await;
    contract_suite::cross::error_responses_identical(rust, node).await;
}
