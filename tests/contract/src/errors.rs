//! Conventions of every response and the request checks: 404, 405 + `Allow`,
//! `x-request-id`, path ids, bodies (JSON, object, content type, size), check order.

use serde_json::json;

use crate::Target;
use crate::http::{Call, Reply, get, patch, post};
use crate::json::{is_uuid_v7, unique_email};
use crate::tokens::rw;

pub async fn errors_unknown_route_404(target: &Target) {
    for (method, path) in [
        ("GET", "/"),
        ("GET", "/nope"),
        ("GET", "/users/"),
        ("GET", "/users/6ba7b810-9dad-11d1-80b4-00c04fd430c8/extra"),
        ("POST", "/api/v1/processes"),
        ("GET", "/health"),
        ("DELETE", "/does/not/exist"),
        ("GET", "/USERS"),
    ] {
        let reply = Call::new(target, method, path).send().await;
        reply.assert_error(404, "Not found");
    }
}

pub async fn errors_wrong_method_405_with_allow(target: &Target) {
    let id = uuid::Uuid::new_v4();
    let user = format!("/users/{id}");
    for (method, path, allow) in [
        ("PUT", "/users", "GET, POST"),
        ("DELETE", "/users", "GET, POST"),
        ("PATCH", "/users", "GET, POST"),
        ("POST", user.as_str(), "GET, PATCH, DELETE"),
        ("PUT", user.as_str(), "GET, PATCH, DELETE"),
        ("PUT", "/users/not-a-uuid", "GET, PATCH, DELETE"),
        ("GET", "/api/v1/process", "POST"),
        ("PUT", "/api/v1/process", "POST"),
    ] {
        // No token: the method is checked before authentication.
        let reply = Call::new(target, method, path).send().await;
        reply.assert_error(405, "Method not allowed");
        assert_eq!(
            reply.header("allow"),
            Some(allow),
            "{}: Allow",
            reply.context()
        );
    }
}

/// The operational routes are known routes too: another method is 405 with `Allow`.
pub async fn errors_wrong_method_on_operational_routes(target: &Target) {
    let mut failures = Vec::new();
    for (method, path) in [
        ("POST", "/health/live"),
        ("DELETE", "/health/ready"),
        ("POST", "/metrics"),
        ("PUT", "/openapi.json"),
    ] {
        let reply = Call::new(target, method, path).send().await;
        let allow = reply.header("allow").unwrap_or_default().to_string();
        if reply.status != 405 || !allow.contains("GET") {
            failures.push(format!(
                "  {method} {path}: got {} allow {allow:?}",
                reply.status
            ));
        } else {
            reply.assert_error(405, "Method not allowed");
        }
    }
    assert!(
        failures.is_empty(),
        "[{}] known route, wrong method must be 405 `Method not allowed` with `Allow: GET`:\n{}",
        target.name,
        failures.join("\n")
    );
}

const VALID_IDS: &[&str] = &[
    "abc",
    "A",
    "req-1.2_3",
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_",
];

/// Calls of every kind of response: 200, 201, 204-less errors, 400, 401, 404, 405, 415.
fn assorted<'a>(target: &'a Target, token: &str) -> Vec<Call<'a>> {
    vec![
        get(target, "/health/live"),
        get(target, "/users").bearer(token),
        post(target, "/users")
            .bearer(token)
            .json(&json!({"email": unique_email("rid")})),
        get(target, "/users/zzz").bearer(token),
        get(target, "/users"),
        get(target, "/nowhere"),
        Call::new(target, "PUT", "/users"),
        post(target, "/users")
            .bearer(token)
            .header("content-type", "text/plain")
            .body("x"),
        post(target, "/users").bearer(token).raw_json("{"),
        post(target, "/api/v1/process").raw_json("[]"),
    ]
}

pub async fn errors_request_id_kept_when_valid(target: &Target) {
    let token = rw(target);
    for id in VALID_IDS {
        assert!(id.len() <= 64);
        for call in assorted(target, &token) {
            let reply = call.header("x-request-id", id).send().await;
            assert_eq!(
                reply.header("x-request-id"),
                Some(*id),
                "{}: a valid x-request-id is kept",
                reply.context()
            );
            if reply.status >= 400 {
                reply.assert_some_error(reply.status);
            }
        }
    }
}

pub async fn errors_request_id_replaced_when_invalid(target: &Target) {
    let token = rw(target);
    let too_long = "a".repeat(65);
    for id in [
        too_long.as_str(),
        "a b",
        "a/b",
        "a:b",
        "ab\tc",
        "a,b",
        "%41",
        "",
    ] {
        for call in assorted(target, &token) {
            let reply = call.header("x-request-id", id).send().await;
            let got = reply.request_id();
            assert!(
                is_uuid_v7(&got),
                "{}: an invalid x-request-id {id:?} is replaced by a fresh UUID v7, got {got:?}",
                reply.context()
            );
            if reply.status >= 400 {
                reply.assert_some_error(reply.status);
            }
        }
    }
    // Without one: a fresh UUID v7, different each time.
    let a = get(target, "/health/live").send().await.request_id();
    let b = get(target, "/health/live").send().await.request_id();
    assert!(
        is_uuid_v7(&a) && is_uuid_v7(&b) && a != b,
        "[{}] fresh ids {a} {b}",
        target.name
    );
}

/// Path ids that are not the hyphenated form, percent-encoded where needed.
pub fn invalid_path_ids() -> Vec<(&'static str, String)> {
    let uuid = "6ba7b810-9dad-11d1-80b4-00c04fd430c8";
    vec![
        ("too short", "6ba7b810-9dad-11d1-80b4-00c04fd430c".into()),
        ("too long", format!("{uuid}0")),
        ("braces", format!("%7B{uuid}%7D")),
        ("urn:uuid:", format!("urn:uuid:{uuid}")),
        ("no hyphens", uuid.replace('-', "")),
        (
            "hyphens moved",
            "6ba7b8109-dad-11d1-80b4-00c04fd430c8".into(),
        ),
        ("non-hex", "6ba7b810-9dad-11d1-80b4-00c04fd430cg".into()),
        ("path traversal", "..%2F..%2Fetc%2Fpasswd".into()),
        ("4 KiB long", "a".repeat(4096)),
        ("4 KiB of uuid", uuid.repeat(4096 / 36 + 1)),
        ("plain word", "me".into()),
        ("space", format!("%20{uuid}")),
        ("unicode digits", format!("{}%EF%BC%90", &uuid[..35])),
        (
            "percent-encoded hyphen",
            uuid.replace('-', "%2D").chars().collect(),
        ),
    ]
}

pub async fn errors_invalid_user_ids_are_400(target: &Target) {
    let token = rw(target);
    for (what, id) in invalid_path_ids() {
        // "%2D" decodes to "-": that one is the valid form after decoding, so skip it.
        if what == "percent-encoded hyphen" {
            continue;
        }
        for method in ["GET", "PATCH", "DELETE"] {
            let mut call = Call::new(target, method, &format!("/users/{id}")).bearer(&token);
            if method == "PATCH" {
                call = call.json(&json!({"email": unique_email("badpath")}));
            }
            let reply = call.send().await;
            assert_eq!(
                reply.status,
                400,
                "{} (id: {what}): expected 400 Invalid user id",
                reply.context()
            );
            reply.assert_error(400, "Invalid user id");
        }
    }
}

pub async fn errors_invalid_json_body(target: &Target) {
    let token = rw(target);
    let id = uuid::Uuid::new_v4();
    for body in [
        "{",
        "{\"email\": }",
        "",
        "nul",
        "{\"email\":\"a@b.c\"} x",
        "{'email':'a@b.co'}",
    ] {
        for call in [
            post(target, "/users"),
            patch(target, &format!("/users/{id}")),
        ] {
            let reply = call.bearer(&token).raw_json(body).send().await;
            assert_eq!(
                reply.status,
                400,
                "{} (body {body:?}): expected 400",
                reply.context()
            );
            reply.assert_error(400, "Invalid JSON body");
        }
    }
    let reply = post(target, "/api/v1/process")
        .raw_json("{\"records\": [")
        .send()
        .await;
    reply.assert_error(400, "Invalid JSON body");
}

pub async fn errors_body_not_an_object(target: &Target) {
    let token = rw(target);
    let id = uuid::Uuid::new_v4();
    for body in [
        "[]",
        "\"a@b.co\"",
        "1",
        "null",
        "true",
        "[{\"email\":\"a@b.co\"}]",
    ] {
        for call in [
            post(target, "/users"),
            patch(target, &format!("/users/{id}")),
            post(target, "/api/v1/process"),
        ] {
            let reply = call.bearer(&token).raw_json(body).send().await;
            reply.assert_error(400, "Body must be a JSON object");
        }
    }
}

pub async fn errors_wrong_content_type_is_415(target: &Target) {
    let token = rw(target);
    let id = uuid::Uuid::new_v4();
    let body = json!({"email": unique_email("ctype")}).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("application/jsonx"),
        Some("text/json"),
        Some("multipart/form-data; boundary=x"),
    ] {
        for path in [
            "/users".to_string(),
            format!("/users/{id}"),
            "/api/v1/process".into(),
        ] {
            let method = if path.starts_with("/users/") {
                "PATCH"
            } else {
                "POST"
            };
            let mut call = Call::new(target, method, &path)
                .bearer(&token)
                .body(body.clone());
            if let Some(content_type) = content_type {
                call = call.header("content-type", content_type);
            }
            let reply = call.send().await;
            assert_eq!(
                reply.status,
                415,
                "{} (content type {content_type:?}): expected 415",
                reply.context()
            );
            reply.assert_error(415, "Content-Type must be application/json");
        }
    }
    // Parameters are allowed, and the type is case-insensitive.
    for content_type in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;charset=UTF-8",
    ] {
        let reply = post(target, "/users")
            .bearer(&token)
            .header("content-type", content_type)
            .body(json!({"email": unique_email("ctype")}).to_string())
            .send()
            .await;
        assert_eq!(
            reply.status,
            201,
            "{} (content type {content_type:?}): expected 201",
            reply.context()
        );
    }
}

pub async fn errors_oversized_body_is_413(target: &Target) {
    let token = rw(target);
    let id = uuid::Uuid::new_v4();
    // A valid JSON object of 64 KiB + 1 byte.
    let over = {
        let filler_len = 64 * 1024 + 1 - r#"{"email":"a@b.co","x":""}"#.len();
        format!(r#"{{"email":"a@b.co","x":"{}"}}"#, "x".repeat(filler_len))
    };
    assert_eq!(over.len(), 64 * 1024 + 1);
    for call in [
        post(target, "/users"),
        patch(target, &format!("/users/{id}")),
    ] {
        let reply = call.bearer(&token).raw_json(over.clone()).send().await;
        reply.assert_error(413, "Payload too large");
    }
    // Exactly 64 KiB is within the limit (the email is then checked: 201).
    let email = unique_email("limit");
    let at_limit = {
        let filler_len = 64 * 1024 - format!(r#"{{"email":"{email}","x":""}}"#).len();
        format!(r#"{{"email":"{email}","x":"{}"}}"#, "x".repeat(filler_len))
    };
    assert_eq!(at_limit.len(), 64 * 1024);
    let reply = post(target, "/users")
        .bearer(&token)
        .raw_json(at_limit)
        .send()
        .await;
    reply.assert_status(201);
    // Much larger (1 MiB): still a clean 413.
    let huge = format!(r#"{{"email":"a@b.co","x":"{}"}}"#, "x".repeat(1024 * 1024));
    let reply = post(target, "/users")
        .bearer(&token)
        .raw_json(huge)
        .send()
        .await;
    reply.assert_error(413, "Payload too large");
}

fn expect(reply: &Reply, status: u16, message: &str, why: &str) {
    assert_eq!(reply.status, status, "{}: {why}", reply.context());
    reply.assert_error(status, message);
}

pub async fn errors_check_order(target: &Target) {
    let token = rw(target);
    let read_only = crate::tokens::token(target, "users:read");
    let ghost = uuid::Uuid::new_v4();
    // 1. route/method before auth.
    method_before_auth(target).await;
    // 2. auth before path id, query and body; scope before path id and body.
    auth_before_path_id_query_and_body(target, &read_only).await;
    // 3. path id before body.
    let reply = patch(target, "/users/zzz")
        .bearer(&token)
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await;
    expect(
        &reply,
        400,
        "Invalid user id",
        "path id before content type",
    );
    // 5. content type before size; size before JSON; JSON before object; object before fields.
    content_type_before_size_before_json(target, &token).await;
    // fields before the database: an unknown id with a bad email is 422, not 404.
    let reply = patch(target, &format!("/users/{ghost}"))
        .bearer(&token)
        .json(&json!({"email": "bad"}))
        .send()
        .await;
    expect(
        &reply,
        422,
        "Validation failed",
        "fields before the database",
    );
    // Unknown route without a token is 404, not 401.
    let reply = get(target, "/users/a/b").send().await;
    expect(&reply, 404, "Not found", "route before auth");
}

/// A method the route does not have is 405 before the missing token and the bad path id.
async fn method_before_auth(target: &Target) {
    let reply = Call::new(target, "PUT", "/users/zzz").send().await;
    expect(
        &reply,
        405,
        "Method not allowed",
        "method before auth and path id",
    );
}

/// A missing or invalid token is 401 before a bad path id, query or body; a token without
/// the scope (`read_only`) is 403 before a bad path id and body.
async fn auth_before_path_id_query_and_body(target: &Target, read_only: &str) {
    let reply = get(target, "/users/zzz").send().await;
    expect(
        &reply,
        401,
        "Missing bearer token",
        "auth before the path id",
    );
    let reply = get(target, "/users?limit=0")
        .header("authorization", "Bearer abc.def")
        .send()
        .await;
    expect(&reply, 401, "Invalid token", "auth before the query");
    let reply = post(target, "/users")
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await;
    expect(&reply, 401, "Missing bearer token", "auth before the body");
    // scope before path id and body.
    let reply = patch(target, "/users/zzz")
        .bearer(read_only)
        .raw_json("{")
        .send()
        .await;
    expect(
        &reply,
        403,
        "Missing scope users:write",
        "scope before path id",
    );
}

/// A 70 KiB body: 415 as text/plain (content type before size), 413 as JSON (size before
/// parsing it).
async fn content_type_before_size_before_json(target: &Target, token: &str) {
    let big = "x".repeat(70 * 1024);
    let reply = post(target, "/users")
        .bearer(token)
        .header("content-type", "text/plain")
        .body(big.clone())
        .send()
        .await;
    expect(
        &reply,
        415,
        "Content-Type must be application/json",
        "content type before size",
    );
    let reply = post(target, "/users")
        .bearer(token)
        .raw_json(big)
        .send()
        .await;
    expect(&reply, 413, "Payload too large", "size before JSON");
}
