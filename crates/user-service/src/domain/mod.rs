//! The users domain: what a user is and what makes its fields valid.

pub mod email;
pub mod user;
