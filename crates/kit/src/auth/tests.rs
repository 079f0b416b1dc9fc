//! The verifier: scopes, expiry, keys, algorithm confusion, required claims.

use super::*;
use crate::config::Secret;

const SECRET: &str = "unit-test-secret-0123456789abcdef0123";
const OTHER_SECRET: &str = "another-unit-test-secret-0123456789ab";

fn verifier(secret: &str) -> JwtVerifier {
    let settings = AuthSettings {
        jwt_secret: Some(Secret::from(secret)),
        ..AuthSettings::default()
    };
    JwtVerifier::from_settings(&settings, Environment::Test).expect("a secret is enough to verify")
}

#[test]
fn minted_tokens_verify_and_carry_scopes() {
    let verifier = verifier(SECRET);
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
    let verifier = verifier(SECRET);
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
        &EncodingKey::from_secret(SECRET.as_bytes()),
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
    let token = verifier(SECRET)
        .mint("a", "users:read", Duration::from_secs(60))
        .expect("mint");
    assert!(verifier(OTHER_SECRET).verify(&token).is_err());
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
        algorithm: JwtAlgorithm::EdDSA,
        ..AuthSettings::default()
    };
    let verifier =
        JwtVerifier::from_settings(&settings, Environment::Production).expect("a key is enough");
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
    let token =
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &signing).expect("signing");
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

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// An HS256 token with the test secret and these `iss` and `aud` members (JSON).
fn token_with(iss: Option<&str>, aud: Option<serde_json::Value>) -> String {
    let mut claims = serde_json::json!({ "sub": "a", "exp": now() + 60, "scope": "users:read" });
    if let Some(iss) = iss {
        claims["iss"] = iss.into();
    }
    if let Some(aud) = aud {
        claims["aud"] = aud;
    }
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("signing")
}

fn verifier_requiring(issuer: Option<&str>, audience: Option<&str>) -> JwtVerifier {
    let settings = AuthSettings {
        jwt_secret: Some(Secret::from(SECRET)),
        issuer: issuer.map(str::to_owned),
        audience: audience.map(str::to_owned),
        ..AuthSettings::default()
    };
    JwtVerifier::from_settings(&settings, Environment::Test).expect("a secret is enough")
}

#[test]
fn a_configured_issuer_is_required() {
    let verifier = verifier_requiring(Some("https://auth.example.com"), None);
    assert!(verifier.verify(&token_with(None, None)).is_err(), "no iss");
    assert!(
        verifier
            .verify(&token_with(Some("https://evil.example.com"), None))
            .is_err()
    );
    assert!(
        verifier
            .verify(&token_with(Some("https://auth.example.com"), None))
            .is_ok()
    );
}

#[test]
fn a_configured_audience_is_required_and_may_be_one_of_an_array() {
    let verifier = verifier_requiring(None, Some("user-service"));
    assert!(verifier.verify(&token_with(None, None)).is_err(), "no aud");
    assert!(
        verifier
            .verify(&token_with(None, Some("other".into())))
            .is_err()
    );
    assert!(
        verifier
            .verify(&token_with(None, Some("user-service".into())))
            .is_ok()
    );
    let array = serde_json::json!(["billing", "user-service"]);
    assert!(
        verifier.verify(&token_with(None, Some(array))).is_ok(),
        "aud array"
    );
    let without = serde_json::json!(["billing", "search"]);
    assert!(verifier.verify(&token_with(None, Some(without))).is_err());
    // The verifier's own tokens carry what it requires.
    let minted = verifier
        .mint("a", "users:read", Duration::from_secs(60))
        .expect("mint");
    assert!(verifier.verify(&minted).is_ok());
}

#[test]
fn a_short_secret_or_a_key_with_hs256_does_not_build_a_verifier() {
    let short = AuthSettings {
        jwt_secret: Some(Secret::from("short")),
        ..AuthSettings::default()
    };
    assert!(matches!(
        JwtVerifier::from_settings(&short, Environment::Test),
        Err(AuthSetupError::ShortSecret(5))
    ));
    let confused = AuthSettings {
        public_key_file: Some("jwt.pub.pem".into()),
        ..AuthSettings::default()
    };
    assert!(matches!(
        JwtVerifier::from_settings(&confused, Environment::Test),
        Err(AuthSetupError::Mismatch(JwtAlgorithm::HS256))
    ));
}
