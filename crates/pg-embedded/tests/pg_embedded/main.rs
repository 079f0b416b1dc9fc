//! pg-embedded's integration tests, one binary, on real initdb/postgres: a throwaway
//! cluster's life ([`cluster`]), who can reach it ([`access`]), and children tied to the
//! process rather than to the thread that spawned them ([`tied_child`]).

mod access;
mod cluster;
mod support;
mod tied_child;
