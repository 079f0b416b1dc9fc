//! The user-service: the users API of `docs/contract.md` on the service kit.

pub mod commands;
pub mod domain;
pub mod process;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod store;
