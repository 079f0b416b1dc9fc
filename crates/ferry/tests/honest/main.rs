//! Issue 19's "services that are not ours": small services written here, unlike the users
//! API, each reproducing one way ferry could give a wrong number without a word. One test
//! binary for all of them, so that actix, hyper and sqlx are linked once.

mod beside_the_load;
mod cpu;
mod credentials;
mod default_lab;
mod errors;
mod flow;
mod gate;
mod requests;
mod reset;
mod secrets;
mod support;
