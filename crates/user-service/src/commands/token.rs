//! `user-service token`: mints a bearer token for local use, signed with `JWT_SECRET`
//! when set, else with the development secret the service itself uses.

use std::time::Duration;

use kit::auth::JwtVerifier;
use kit::config::Environment;

use crate::settings::Settings;

pub fn mint(
    settings: &Settings,
    environment: Environment,
    subject: &str,
    scope: &str,
    ttl: Duration,
) -> anyhow::Result<String> {
    let verifier = JwtVerifier::from_settings(&settings.auth, environment)?;
    Ok(verifier.mint(subject, scope, ttl)?)
}
