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
//! algorithm-confusion tokens fail), requires `exp`, and checks `nbf`, `iss` and `aud`.
//! A verified token is remembered (bounded, keyed by the whole token, signature
//! included), so a client that sends the same token on every request pays for the
//! signature check once; `exp` and `nbf` are still checked on every use.
//! A handler asks for a scope with the [`Authorized`] extractor:
//! `Authorized<UsersRead>` answers 401 (missing or bad token) or 403 (missing scope)
//! before the handler runs.

use std::fs;
use std::future::{Ready, ready};
use std::io::Write;
use std::marker::PhantomData;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::config::{AuthSettings, Environment};
use crate::error::ApiError;

/// Why authentication could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    #[error(
        "invalid configuration: `auth.jwt_secret` (JWT_SECRET) or `auth.public_key_file` must be set in production"
    )]
    NoKeyInProduction,
    #[error("invalid configuration: `auth.public_key_file` {path}: {problem}")]
    PublicKey { path: String, problem: String },
    #[error("the development secret file {path}: {source}")]
    DevSecret {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("signing a token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error(
        "minting tokens needs the HS256 secret; this service verifies {0} tokens with a public key"
    )]
    CannotMint(String),
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
    pub aud: Option<String>,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
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
        let (algorithm, material) = match (&settings.jwt_secret, &settings.public_key_file) {
            (_, Some(path)) => {
                let algorithm = if settings.algorithm == "EdDSA" {
                    Algorithm::EdDSA
                } else {
                    Algorithm::RS256
                };
                let pem = fs::read(path).map_err(|error| AuthSetupError::PublicKey {
                    path: path.display().to_string(),
                    problem: error.to_string(),
                })?;
                let key = match algorithm {
                    Algorithm::EdDSA => DecodingKey::from_ed_pem(&pem),
                    _ => DecodingKey::from_rsa_pem(&pem),
                }
                .map_err(|error| AuthSetupError::PublicKey {
                    path: path.display().to_string(),
                    problem: error.to_string(),
                })?;
                (algorithm, KeyMaterial::PublicKey(key))
            }
            (Some(secret), None) if !secret.is_empty() => (
                Algorithm::HS256,
                KeyMaterial::Secret(secret.as_bytes().to_vec()),
            ),
            _ if environment == Environment::Production => {
                return Err(AuthSetupError::NoKeyInProduction);
            }
            _ => (
                Algorithm::HS256,
                KeyMaterial::Secret(load_or_create_dev_secret(&settings.dev_secret_file)?),
            ),
        };
        let mut validation = Validation::new(algorithm);
        validation.leeway = settings.leeway_secs;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_aud = settings.audience.is_some();
        if let Some(audience) = &settings.audience {
            validation.set_audience(&[audience]);
        }
        if let Some(issuer) = &settings.issuer {
            validation.set_issuer(&[issuer]);
        }
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
            aud: self.audience.clone(),
            scope: scopes.to_owned(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )?)
    }
}

/// Reads the development secret, creating it (random, owner-only) the first time.
fn load_or_create_dev_secret(path: &Path) -> Result<Vec<u8>, AuthSetupError> {
    let wrap = |source| AuthSetupError::DevSecret {
        path: path.display().to_string(),
        source,
    };
    match fs::read_to_string(path) {
        Ok(secret) if !secret.trim().is_empty() => return Ok(secret.trim().as_bytes().to_vec()),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(wrap(error)),
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(wrap)?;
    }
    let secret: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    // create_new: if two processes race, the loser reads the winner's secret.
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(mut file) => {
            file.write_all(secret.as_bytes()).map_err(wrap)?;
            tracing::info!(path = %path.display(), "created a development JWT secret");
            Ok(secret.into_bytes())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Ok(fs::read_to_string(path)
                .map_err(wrap)?
                .trim()
                .as_bytes()
                .to_vec())
        }
        Err(error) => Err(wrap(error)),
    }
}

/// The bearer token of a request, or the 401 for its absence.
fn bearer_token(request: &HttpRequest) -> Result<&str, ApiError> {
    let missing = ApiError::Unauthorized {
        message: "Missing bearer token",
        invalid_token: false,
    };
    // Bytes, then UTF-8: `HeaderValue::to_str` checks each byte on its own and was a
    // tenth of a cached read's cost (callgrind); a token with control characters still
    // fails its signature check.
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| std::str::from_utf8(value.as_bytes()).ok())
        .ok_or(missing)?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    // Another scheme, or `Bearer` with nothing after it: no bearer token was sent.
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::Unauthorized {
            message: "Missing bearer token",
            invalid_token: false,
        });
    }
    Ok(token)
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
mod tests {
    use super::*;

    fn verifier(secret: &str) -> JwtVerifier {
        let settings = AuthSettings {
            jwt_secret: Some(secret.into()),
            ..AuthSettings::default()
        };
        JwtVerifier::from_settings(&settings, Environment::Test)
            .expect("a secret is enough to verify")
    }

    #[test]
    fn minted_tokens_verify_and_carry_scopes() {
        let verifier = verifier("s3cret");
        let token = verifier
            .mint("alice", "users:read", Duration::from_secs(60))
            .expect("HS256 mints");
        let claims = verifier.verify(&token).expect("own token verifies");
        assert!(claims.has_scope("users:read"));
        assert!(!claims.has_scope("users:write"));
        assert!(!claims.has_scope("users"));
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let verifier = verifier("s3cret");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs();
        // exp just inside the 30 s leeway now; verified and remembered.
        let claims = Claims {
            sub: "a".into(),
            exp: now - 29,
            iat: None,
            nbf: None,
            iss: None,
            aud: None,
            scope: String::new(),
        };
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(b"s3cret"),
        )
        .expect("signing");
        assert!(verifier.verify(&token).is_ok());
        // The same claims a little later are out of the leeway: the remembered entry
        // must not keep the token alive.
        let expired = Claims {
            exp: now - 31,
            ..claims
        };
        assert!(!verifier.is_current(&expired));
        assert!(verifier.is_current(&Claims {
            exp: now + 60,
            ..expired.clone()
        }));
        assert!(!verifier.is_current(&Claims {
            exp: now + 60,
            nbf: Some(now + 120),
            ..expired
        }));
    }

    #[test]
    fn tokens_of_another_secret_fail() {
        let token = verifier("one")
            .mint("a", "users:read", Duration::from_secs(60))
            .expect("mint");
        assert!(verifier("two").verify(&token).is_err());
    }

    /// A key pair made for this test only (`openssl genpkey -algorithm ed25519`).
    const ED25519_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFzXvU9UlAXlTzbvHYlaXDLfg+aMd7irWw9d3TZrhEKj\n-----END PRIVATE KEY-----\n";
    const ED25519_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA7PpJb6miq62Lbc33ZE5CJy5JqDUBSiKz4lxBzXKZX3s=\n-----END PUBLIC KEY-----\n";

    #[test]
    fn eddsa_public_key_verifies_and_rejects_algorithm_confusion() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let public_key = directory.path().join("jwt.pub.pem");
        std::fs::write(&public_key, ED25519_PUBLIC).expect("writing the key");
        let settings = AuthSettings {
            public_key_file: Some(public_key),
            algorithm: "EdDSA".into(),
            ..AuthSettings::default()
        };
        let verifier = JwtVerifier::from_settings(&settings, Environment::Production)
            .expect("a key is enough");
        let claims = Claims {
            sub: "svc".into(),
            exp: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .expect("after 1970")
                .as_secs()
                + 60,
            iat: None,
            nbf: None,
            iss: None,
            aud: None,
            scope: "users:read".into(),
        };
        let signing =
            EncodingKey::from_ed_pem(ED25519_PRIVATE.as_bytes()).expect("the test key parses");
        let token = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signing)
            .expect("signing");
        let verified = verifier
            .verify(&token)
            .expect("a token signed by the key verifies");
        assert_eq!(*verified, claims);

        // The classic confusion: HS256 "signed" with the public key as the secret.
        let forged = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(ED25519_PUBLIC.as_bytes()),
        )
        .expect("signing");
        assert!(
            verifier.verify(&forged).is_err(),
            "an HS256 token is refused when EdDSA is configured"
        );
        assert!(
            verifier
                .mint("a", "users:read", Duration::from_secs(1))
                .is_err(),
            "no secret, no minting"
        );
    }

    #[test]
    fn production_without_key_refuses_to_start() {
        let result = JwtVerifier::from_settings(&AuthSettings::default(), Environment::Production);
        assert!(matches!(result, Err(AuthSetupError::NoKeyInProduction)));
    }
}
