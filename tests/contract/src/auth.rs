//! Authentication and scopes of `/users*`, and the public endpoints.

use jsonwebtoken::Algorithm;
use serde_json::json;

use crate::Target;
use crate::http::{Call, Reply, get};
use crate::json::unique_email;
use crate::tokens::{self, READ_WRITE, claims, invalid_tokens, now, rw, sign};

fn assert_missing(reply: &Reply) {
    reply.assert_error(401, "Missing bearer token");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer"),
        "{}: WWW-Authenticate",
        reply.context()
    );
}

fn assert_invalid(reply: &Reply, what: &str) {
    assert_eq!(
        reply.status,
        401,
        "{} (token: {what}): expected 401",
        reply.context()
    );
    reply.assert_error(401, "Invalid token");
    assert_eq!(
        reply.header("www-authenticate"),
        Some("Bearer error=\"invalid_token\""),
        "{} (token: {what}): WWW-Authenticate",
        reply.context()
    );
}

pub async fn auth_missing_token(target: &Target) {
    let mut failures = Vec::new();
    for authorization in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer"),
        Some("Bearer "),
        Some(""),
        Some("Token abc.def.ghi"),
    ] {
        let mut call = get(target, "/users");
        if let Some(value) = authorization {
            call = call.header("authorization", value);
        }
        let reply = call.send().await;
        let message = serde_json::from_slice::<serde_json::Value>(&reply.body)
            .ok()
            .and_then(|body| body["error"].as_str().map(str::to_string));
        let got = (
            reply.status,
            message,
            reply.header("www-authenticate").map(str::to_string),
        );
        let want = (
            401,
            Some("Missing bearer token".to_string()),
            Some("Bearer".to_string()),
        );
        if got != want {
            failures.push(format!("  Authorization {authorization:?}: got {got:?}"));
        } else {
            assert_missing(&reply);
        }
    }
    assert!(
        failures.is_empty(),
        "[{}] GET /users without a bearer token must be 401 `Missing bearer token`, `WWW-Authenticate: Bearer`:\n{}",
        target.name,
        failures.join("\n")
    );
}

pub async fn auth_invalid_tokens(target: &Target) {
    for (what, token) in invalid_tokens(target) {
        let reply = get(target, "/users").bearer(&token).send().await;
        assert_invalid(&reply, what);
    }
}

pub async fn auth_missing_scope(target: &Target) {
    let read = tokens::token(target, "users:read");
    let write = tokens::token(target, "users:write");
    let id = uuid::Uuid::new_v4();
    let cases: Vec<(Call, &str)> = vec![
        (
            get(target, "/users").bearer(&write),
            "Missing scope users:read",
        ),
        (
            get(target, &format!("/users/{id}")).bearer(&write),
            "Missing scope users:read",
        ),
        (
            Call::new(target, "POST", "/users")
                .bearer(&read)
                .json(&json!({"email": unique_email("scope")})),
            "Missing scope users:write",
        ),
        (
            Call::new(target, "PATCH", &format!("/users/{id}"))
                .bearer(&read)
                .json(&json!({"email": unique_email("scope")})),
            "Missing scope users:write",
        ),
        (
            Call::new(target, "DELETE", &format!("/users/{id}")).bearer(&read),
            "Missing scope users:write",
        ),
        (
            get(target, "/users").bearer(&tokens::token(target, "")),
            "Missing scope users:read",
        ),
        (
            get(target, "/users").bearer(&tokens::token(target, "users:readx users:write:all")),
            "Missing scope users:read",
        ),
        (
            get(target, "/users").bearer(&{
                let mut no_scope = claims("");
                no_scope.as_object_mut().expect("object").remove("scope");
                sign(target, Algorithm::HS256, &no_scope)
            }),
            "Missing scope users:read",
        ),
    ];
    for (call, message) in cases {
        let reply = call.send().await;
        reply.assert_error(403, message);
    }
}

pub async fn auth_leeway_and_scope_list(target: &Target) {
    // exp 10 s ago is within the 30 s leeway.
    let mut recent = claims(READ_WRITE);
    recent["exp"] = json!(now() - 10);
    let reply = get(target, "/users")
        .bearer(&sign(target, Algorithm::HS256, &recent))
        .send()
        .await;
    reply.assert_status(200);
    // nbf 10 s ahead is within the leeway too.
    let mut early = claims(READ_WRITE);
    early["nbf"] = json!(now() + 10);
    let reply = get(target, "/users")
        .bearer(&sign(target, Algorithm::HS256, &early))
        .send()
        .await;
    reply.assert_status(200);
    // The scope is found anywhere in a space-separated list.
    let reply = get(target, "/users")
        .bearer(&tokens::token(
            target,
            "openid users:write users:read profile",
        ))
        .send()
        .await;
    reply.assert_status(200);
    // The scheme is case-insensitive (RFC 7235).
    let reply = get(target, "/users")
        .header("authorization", &format!("bearer {}", rw(target)))
        .send()
        .await;
    reply.assert_status(200);
}

pub async fn auth_covers_every_users_route(target: &Target) {
    let id = uuid::Uuid::new_v4();
    let calls = || {
        vec![
            get(target, "/users"),
            get(target, &format!("/users/{id}")),
            Call::new(target, "POST", "/users").json(&json!({"email": unique_email("noauth")})),
            Call::new(target, "PATCH", &format!("/users/{id}"))
                .json(&json!({"email": unique_email("noauth")})),
            Call::new(target, "DELETE", &format!("/users/{id}")),
        ]
    };
    for call in calls() {
        assert_missing(&call.send().await);
    }
    let expired = {
        let mut expired = claims(READ_WRITE);
        expired["exp"] = json!(now() - 3600);
        sign(target, Algorithm::HS256, &expired)
    };
    for call in calls() {
        assert_invalid(&call.bearer(&expired).send().await, "expired");
    }
}

pub async fn auth_public_endpoints_need_no_token(target: &Target) {
    for path in ["/health/live", "/health/ready", "/metrics", "/openapi.json"] {
        let reply = get(target, path).send().await;
        reply.assert_status(200);
        reply.request_id();
    }
    let reply = Call::new(target, "POST", "/api/v1/process")
        .raw_json(r#"{"records":[{"user_id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","amount_cents":1,"currency":"EUR","tags":[],"ts":"2024-01-01T00:00:00Z"}]}"#)
        .send()
        .await;
    reply.assert_status(200);
    // A bad token on a public endpoint is not looked at.
    let reply = get(target, "/health/live")
        .header("authorization", "Bearer abc.def")
        .send()
        .await;
    reply.assert_status(200);
}
