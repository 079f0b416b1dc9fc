//! The users domain: what a user is and what makes its fields valid.

pub use parsing::email;
pub mod error;
pub mod user;
