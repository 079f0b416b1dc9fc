//! Tokens for the checks: minted with the target's HS256 secret, and bad ones crafted by
//! hand.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::Target;

pub const READ_WRITE: &str = "users:read users:write";

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs() as i64
}

/// The usual claims: `sub`, `iat`, `exp` in an hour, `scope`.
pub fn claims(scope: &str) -> Value {
    let now = now();
    json!({"sub": "contract-suite", "iat": now, "exp": now + 3600, "scope": scope})
}

/// Signs `claims` with `algorithm` (an HMAC one) and the target's secret.
pub fn sign(target: &Target, algorithm: Algorithm, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(target.jwt_secret.as_bytes()),
    )
    .expect("signing a token")
}

/// A valid HS256 token with `scope`.
pub fn token(target: &Target, scope: &str) -> String {
    sign(target, Algorithm::HS256, &claims(scope))
}

/// A valid token with both users scopes.
pub fn rw(target: &Target) -> String {
    token(target, READ_WRITE)
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("serializing"))
}

/// `alg: none`: header and payload, empty signature.
pub fn alg_none(scope: &str) -> String {
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims(scope))
    )
}

/// A valid HS256 token whose signature is changed.
pub fn bad_signature(target: &Target, scope: &str) -> String {
    let token = token(target, scope);
    let (rest, signature) = token.rsplit_once('.').expect("three parts");
    let mut bytes = URL_SAFE_NO_PAD
        .decode(signature)
        .expect("a base64url signature");
    bytes[0] ^= 0x55;
    format!("{rest}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Signed with another secret.
pub fn other_secret(scope: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims(scope),
        &EncodingKey::from_secret(b"not-the-secret-of-the-target"),
    )
    .expect("signing a token")
}

/// The bad tokens every `/users*` call must refuse with 401 `Invalid token`, named.
pub fn invalid_tokens(target: &Target) -> Vec<(&'static str, String)> {
    let now = now();
    let mut expired = claims(READ_WRITE);
    expired["exp"] = json!(now - 3600);
    let mut no_exp = claims(READ_WRITE);
    no_exp.as_object_mut().expect("object").remove("exp");
    let mut not_yet = claims(READ_WRITE);
    not_yet["nbf"] = json!(now + 3600);
    let mut string_exp = claims(READ_WRITE);
    string_exp["exp"] = json!((now + 3600).to_string());
    vec![
        ("malformed abc.def", "abc.def".to_string()),
        ("garbage", "not-a-token".to_string()),
        ("bad signature", bad_signature(target, READ_WRITE)),
        ("another secret", other_secret(READ_WRITE)),
        (
            "expired an hour ago",
            sign(target, Algorithm::HS256, &expired),
        ),
        ("no exp", sign(target, Algorithm::HS256, &no_exp)),
        (
            "exp as a string",
            sign(target, Algorithm::HS256, &string_exp),
        ),
        ("nbf in an hour", sign(target, Algorithm::HS256, &not_yet)),
        ("alg none", alg_none(READ_WRITE)),
        (
            "alg none with a signature",
            format!("{}sig", alg_none(READ_WRITE)),
        ),
        (
            "HS384 with the same secret",
            sign(target, Algorithm::HS384, &claims(READ_WRITE)),
        ),
        (
            "HS512 with the same secret",
            sign(target, Algorithm::HS512, &claims(READ_WRITE)),
        ),
        ("two parts", {
            let token = rw(target);
            token.rsplit_once('.').expect("three parts").0.to_string()
        }),
    ]
}
