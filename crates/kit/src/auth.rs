//! Bearer JWT authentication and scopes.
//!
//! Settings (`[auth]`, see [`crate::config::AuthSettings`]): an HS256 `jwt_secret`
//! (`JWT_SECRET`), or a PEM `public_key_file` with `algorithm` `EdDSA` or `RS256`;
//! optional `issuer` and `audience`; `leeway_secs`. Outside production, with neither a
//! secret nor a key, a random development secret is created once in `dev_secret_file`
//! (so `user-service token` and the service agree without any setup); production
//! refuses to start without one.
//!
//! Verification accepts only the configured algorithm (so `alg: none` and
//! algorithm-confusion tokens fail), requires `exp`, and checks `nbf`. A configured
//! `issuer` or `audience` is required: a token that omits the claim is refused, and an
//! `aud` array is accepted when it contains the audience.
//! A verified token is remembered (bounded, keyed by the whole token, signature
//! included), so a client that sends the same token on every request pays for the
//! signature check once; `exp` and `nbf` are still checked on every use.
//! A handler asks for a scope with the [`Authorized`] extractor:
//! `Authorized<UsersRead>` answers 401 (missing or bad token) or 403 (missing scope)
//! before the handler runs.

mod dev_secret;

use std::fs;
use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::{AuthSettings, Environment, JwtAlgorithm, MIN_SECRET_BYTES};
use crate::error::ApiError;

/// Why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(
        "invalid configuration: `auth.jwt_secret` (JWT_SECRET) or `auth.public_key_file` must be set in production"
    )]
    NoKeyInProduction,
    #[error(
        "invalid configuration: `auth.jwt_secret` (JWT_SECRET) is {0} bytes; expected at least 32"
    )]
    ShortSecret(usize),
    #[error("invalid configuration: `auth.public_key_file` {path}: {problem}")]
    PublicKey { path: String, problem: String },
    #[error("the development secret file {path}: {source}")]
    DevSecret {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the development secret file {path} {problem}")]
    DevSecretUnsafe { path: String, problem: String },
    #[error("signing a token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error(
        "minting tokens needs the HS256 secret; this service verifies {0} tokens with a public key"
    )]
    CannotMint(String),
    #[error(
        "invalid configuration: `auth.algorithm` {0:?} needs exactly one key: `auth.jwt_secret` for HS256, `auth.public_key_file` for EdDSA and RS256"
    )]
    Mismatch(JwtAlgorithm),
}

/// The claims we read and write.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: String,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<Audience>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
}

/// `aud`: one audience, or an array of them (RFC 7519 §4.1.3).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Claims {
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope.split(' ').any(|scope| scope == wanted)
    }
}

/// A scope a handler requires, as a type: `Authorized<UsersRead>`.
pub trait Scope {
    const NAME: &'static str;
    /// The 403 message, e.g. `Missing scope users:read`.
    const MISSING: &'static str;
}

/// The secret or key that tokens are checked against.
enum KeyMaterial {
    Secret(Vec<u8>),
    PublicKey(DecodingKey),
}

/// How many verified tokens are remembered. No time limit: a remembered token's `exp`
/// and `nbf` are checked on every use.
const VERIFIED_CAPACITY: u64 = 10_000;

/// Verified tokens by their whole text. foldhash, seeded per process: only verified
/// tokens are inserted, so the keys are not the attacker's to choose.
type VerifiedTokens = quick_cache::sync::Cache<
    Box<str>,
    Arc<Claims>,
    quick_cache::UnitWeighter,
    foldhash::fast::RandomState,
>;

/// Verifies bearer tokens; shared by every worker as app data.
pub struct JwtVerifier {
    key: DecodingKey,
    validation: Validation,
    verified: VerifiedTokens,
    /// The HS256 secret, kept to mint local tokens.
    secret: Option<Vec<u8>>,
    issuer: Option<String>,
    audience: Option<String>,
}

impl JwtVerifier {
    pub fn from_settings(
        settings: &AuthSettings,
        environment: Environment,
    ) -> Result<Self, AuthSetupError> {
        let algorithm = match settings.algorithm {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
            JwtAlgorithm::RS256 => Algorithm::RS256,
        };
        let secret = settings
            .jwt_secret
            .as_ref()
            .filter(|secret| !secret.expose().is_empty());
        let material = match (settings.algorithm, secret, &settings.public_key_file) {
            (JwtAlgorithm::HS256, Some(secret), None) => {
                if secret.expose().len() < MIN_SECRET_BYTES {
                    return Err(AuthSetupError::ShortSecret(secret.expose().len()));
                }
                KeyMaterial::Secret(secret.expose().as_bytes().to_vec())
            }
            (JwtAlgorithm::HS256, None, None) if environment != Environment::Production => {
                KeyMaterial::Secret(dev_secret::load_or_create(&settings.dev_secret_file)?)
            }
            (JwtAlgorithm::HS256, None, None) => return Err(AuthSetupError::NoKeyInProduction),
            (algorithm, None, Some(path)) if algorithm.uses_public_key() => {
                KeyMaterial::PublicKey(read_public_key(algorithm, path)?)
            }
            // `AuthSettings::validate` names the key; this guards callers that skip it.
            (algorithm, _, _) => return Err(AuthSetupError::Mismatch(algorithm)),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = settings.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let mut required = vec!["exp"];
        validation.validate_aud = settings.audience.is_some();
        if let Some(audience) = &settings.audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        validation.set_required_spec_claims(&required);
        let (key, secret) = match material {
            KeyMaterial::Secret(secret) => (DecodingKey::from_secret(&secret), Some(secret)),
            KeyMaterial::PublicKey(key) => (key, None),
        };
        Ok(JwtVerifier {
            key,
            validation,
            verified: VerifiedTokens::with(
                VERIFIED_CAPACITY as usize,
                VERIFIED_CAPACITY,
                quick_cache::UnitWeighter,
                foldhash::fast::RandomState::default(),
                Default::default(),
            ),
            secret,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
        })
    }

    /// The claims of a valid token.
    pub fn verify(&self, token: &str) -> Result<Arc<Claims>, ApiError> {
        let invalid = || ApiError::Unauthorized {
            message: "Invalid token",
            invalid_token: true,
        };
        if let Some(claims) = self.verified.get(token) {
            // The signature was checked before; time is the only thing that changes.
            return if self.is_current(&claims) {
                Ok(claims)
            } else {
                Err(invalid())
            };
        }
        let claims = Arc::new(
            jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation)
                .map_err(|_| invalid())?
                .claims,
        );
        self.verified.insert(token.into(), claims.clone());
        Ok(claims)
    }

    /// `exp` not passed and `nbf` reached, with the configured leeway.
    fn is_current(&self, claims: &Claims) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let leeway = self.validation.leeway;
        claims.exp.saturating_add(leeway) > now
            && claims
                .nbf
                .is_none_or(|nbf| nbf <= now.saturating_add(leeway))
    }

    /// Mints an HS256 token (for local use: the `token` subcommand, tests).
    pub fn mint(
        &self,
        subject: &str,
        scopes: &str,
        ttl: Duration,
    ) -> Result<String, AuthSetupError> {
        let Some(secret) = &self.secret else {
            return Err(AuthSetupError::CannotMint(format!(
                "{:?}",
                self.validation.algorithms
            )));
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = Claims {
            sub: subject.to_owned(),
            exp: now + ttl.as_secs(),
            iat: Some(now),
            nbf: None,
            iss: self.issuer.clone(),
            aud: self.audience.clone().map(Audience::One),
            scope: scopes.to_owned(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )?)
    }
}

/// The PEM public key in `path` for `algorithm`.
fn read_public_key(
    algorithm: JwtAlgorithm,
    path: &std::path::Path,
) -> Result<DecodingKey, AuthSetupError> {
    let problem = |problem: String| AuthSetupError::PublicKey {
        path: path.display().to_string(),
        problem,
    };
    let pem = fs::read(path).map_err(|error| problem(error.to_string()))?;
    match algorithm {
        JwtAlgorithm::EdDSA => DecodingKey::from_ed_pem(&pem),
        _ => DecodingKey::from_rsa_pem(&pem),
    }
    .map_err(|error| problem(error.to_string()))
}

/// The bearer token of a request, or the 401 for its absence.
fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| parsing::bearer::bearer_token(value.as_bytes()))
        .ok_or(ApiError::Unauthorized {
            message: "Missing bearer token",
            invalid_token: false,
        })
}

/// The verified claims of a request that holds scope `S`.
pub struct Authorized<S: Scope> {
    pub claims: Arc<Claims>,
    scope: PhantomData<S>,
}

impl<S: Scope> FromRequest for Authorized<S> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authorize::<S>(request))
    }
}

fn authorize<S: Scope>(request: &HttpRequest) -> Result<Authorized<S>, ApiError> {
    let verifier = request
        .app_data::<web::Data<JwtVerifier>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no JwtVerifier in app data")))?;
    let claims = verifier.verify(bearer_token(request)?)?;
    if !claims.has_scope(S::NAME) {
        return Err(ApiError::Forbidden(S::MISSING.to_owned()));
    }
    Ok(Authorized {
        claims,
        scope: PhantomData,
    })
}

#[cfg(test)]
mod tests;
