//! The contract suite's runners, one binary: the suite against the Node baseline and the
//! cross-implementation checks ([`contract_node`]), `POST /api/v1/process` on generated
//! bodies, Rust against Node ([`process_vs_node`]), and the suite against a server already
//! running ([`base_url`], ignored by default). The implementations they start are in
//! [`support`].

mod base_url;
mod contract_node;
mod process_vs_node;
mod support;
