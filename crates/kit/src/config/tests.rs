//! Validation and redaction of the shared settings.

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};

use super::*;

fn auth(adjust: impl FnOnce(&mut AuthSettings)) -> Result<(), ConfigError> {
    let mut settings = AuthSettings::default();
    adjust(&mut settings);
    settings.validate()
}

fn refused_naming(result: Result<(), ConfigError>, key: &str) {
    match result {
        Err(ConfigError::Value { key: named, .. }) => assert_eq!(named, key),
        other => panic!("expected an error naming {key}, got {other:?}"),
    }
}

#[test]
fn a_short_secret_stops_start_up_naming_the_key() {
    refused_naming(
        auth(|s| s.jwt_secret = Some("short".into())),
        "auth.jwt_secret",
    );
    let thirty_one = "x".repeat(MIN_SECRET_BYTES - 1);
    refused_naming(
        auth(|s| s.jwt_secret = Some(thirty_one.as_str().into())),
        "auth.jwt_secret",
    );
    let enough = "x".repeat(MIN_SECRET_BYTES);
    auth(|s| s.jwt_secret = Some(enough.as_str().into())).expect("32 bytes are enough");
}

#[test]
fn a_secret_and_a_key_file_together_are_refused() {
    refused_naming(
        auth(|s| {
            s.jwt_secret = Some("x".repeat(40).into());
            s.public_key_file = Some("jwt.pub.pem".into());
            s.algorithm = JwtAlgorithm::EdDSA;
        }),
        "auth.jwt_secret",
    );
}

#[test]
fn hs256_with_a_key_file_is_refused_rather_than_run_as_rs256() {
    refused_naming(
        auth(|s| s.public_key_file = Some("jwt.pub.pem".into())),
        "auth.algorithm",
    );
    refused_naming(
        auth(|s| s.algorithm = JwtAlgorithm::RS256),
        "auth.public_key_file",
    );
}

#[test]
fn an_unknown_algorithm_name_is_a_configuration_error() {
    let parsed: Result<AuthSettings, _> =
        Figment::from(Serialized::defaults(AuthSettings::default()))
            .merge(Toml::string(r#"algorithm = "HS512""#))
            .extract();
    let error = parsed.expect_err("HS512 is not one of ours").to_string();
    assert!(error.contains("HS512"), "{error}");
}

#[test]
fn debug_output_hides_database_passwords() {
    let settings = DatabaseSettings {
        url: Some("postgres://app:s3cr3t-pw@db.internal:5432/users".into()),
        read_url: Some("postgres://app@replica/users".into()),
        ..DatabaseSettings::default()
    };
    let shown = format!("{settings:?}");
    assert!(!shown.contains("s3cr3t-pw"), "{shown}");
    assert!(
        shown.contains("postgres://app:<redacted>@db.internal:5432/users"),
        "{shown}"
    );
    assert!(shown.contains("postgres://app@replica/users"), "{shown}");
}

#[test]
fn debug_output_carries_no_secret() {
    let settings = AuthSettings {
        jwt_secret: Some("a-very-secret-value-of-forty-bytes-long!".into()),
        ..AuthSettings::default()
    };
    let shown = format!("{settings:?}");
    assert!(!shown.contains("a-very-secret"), "{shown}");
}
