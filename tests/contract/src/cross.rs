//! Two implementations, the same requests: the responses must agree.

use crate::Target;
use crate::http::{Call, Reply, get, post, truncate};
use crate::process::{GENERATED, gen_batch};
use crate::tokens::rw;

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let at = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let window = |bytes: &[u8]| {
        let from = at.saturating_sub(80);
        let to = (at + 80).min(bytes.len());
        String::from_utf8_lossy(&bytes[from..to]).into_owned()
    };
    format!(
        "first difference at byte {at} (lengths {} and {}):\n  …{}…\n  …{}…",
        a.len(),
        b.len(),
        window(a),
        window(b)
    )
}

/// The same generated batches to both: byte-identical 200 bodies.
pub async fn process_identical(a: &Target, b: &Target) {
    let mut batches: Vec<(String, String)> = GENERATED
        .iter()
        .map(|(seed, count)| {
            (
                format!("seed {seed}, {count} records"),
                gen_batch(*seed, *count),
            )
        })
        .collect();
    for seed in 100..130u64 {
        let count = 1 + (seed as usize * 7919) % 3000;
        batches.push((
            format!("seed {seed}, {count} records"),
            gen_batch(seed, count),
        ));
    }
    let mut failures = Vec::new();
    for (what, body) in batches {
        let left = post(a, "/api/v1/process")
            .raw_json(body.clone())
            .send()
            .await;
        let right = post(b, "/api/v1/process").raw_json(body).send().await;
        if left.status != 200 || right.status != 200 {
            failures.push(format!(
                "{what}: statuses {} / {}: {} / {}",
                left.status,
                right.status,
                truncate(&left.text(), 200),
                truncate(&right.text(), 200)
            ));
        } else if left.body != right.body {
            failures.push(format!(
                "{what}: bodies differ; {}",
                first_difference(&left.body, &right.body)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "/api/v1/process: {} and {} differ on generated batches:\n{}",
        a.name,
        b.name,
        failures.join("\n")
    );
}

fn summary(reply: &Reply) -> String {
    let body = serde_json::from_slice::<serde_json::Value>(&reply.body).ok();
    let error = body
        .as_ref()
        .and_then(|body| body["error"].as_str().map(str::to_string));
    format!(
        "{} error={error:?} allow={:?} www-authenticate={:?} content-type={:?} retry-after={:?}",
        reply.status,
        reply.header("allow"),
        reply.header("www-authenticate"),
        reply.header("content-type"),
        reply.header("retry-after"),
    )
}

/// A request, made the same way against either target.
type Make = Box<dyn Fn(&Target) -> Call<'_>>;

/// Requests where the contract fixes less than everything: both must answer alike
/// (status, message, headers), so a client cannot tell them apart.
pub async fn error_responses_identical(a: &Target, b: &Target) {
    let mut cases = process_body_cases();
    cases.extend(users_body_cases());
    cases.extend(method_cases());
    cases.extend(query_and_path_cases());
    cases.extend(authorization_cases());
    cases.extend(email_space_cases());
    let mut failures = Vec::new();
    for (what, make) in &cases {
        let left = make(a).send().await;
        let right = make(b).send().await;
        let (l, r) = (summary(&left), summary(&right));
        if l != r {
            failures.push(format!("{what}:\n  {}: {l}\n  {}: {r}", a.name, b.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} and {} answer differently:\n{}",
        a.name,
        b.name,
        failures.join("\n")
    );
}

/// `POST /api/v1/process` with no records, none, too many, or no body.
fn process_body_cases() -> Vec<(&'static str, Make)> {
    vec![
        (
            "process {}",
            Box::new(|t| post(t, "/api/v1/process").raw_json("{}")),
        ),
        (
            "process records null",
            Box::new(|t| post(t, "/api/v1/process").raw_json(r#"{"records":null}"#)),
        ),
        (
            "process records []",
            Box::new(|t| post(t, "/api/v1/process").raw_json(r#"{"records":[]}"#)),
        ),
        (
            "process 10001 records",
            Box::new(|t| {
                post(t, "/api/v1/process")
                    .raw_json(format!("{{\"records\":[{}0]}}", "0,".repeat(10_000)))
            }),
        ),
        (
            "process empty body",
            Box::new(|t| post(t, "/api/v1/process").raw_json("")),
        ),
    ]
}

/// `POST /users` with no body, or a null id.
fn users_body_cases() -> Vec<(&'static str, Make)> {
    vec![
        (
            "users empty body",
            Box::new(|t| post(t, "/users").bearer(&rw(t)).raw_json("")),
        ),
        (
            "users id null",
            Box::new(|t| {
                post(t, "/users")
                    .bearer(&rw(t))
                    .json(&serde_json::json!({"email": crate::json::unique_email("x"), "id": null}))
            }),
        ),
    ]
}

/// Methods a route does not have.
fn method_cases() -> Vec<(&'static str, Make)> {
    vec![
        ("users HEAD", Box::new(|t| Call::new(t, "HEAD", "/users"))),
        (
            "users OPTIONS",
            Box::new(|t| Call::new(t, "OPTIONS", "/users")),
        ),
        ("health POST", Box::new(|t| post(t, "/health/live"))),
        ("metrics POST", Box::new(|t| post(t, "/metrics"))),
    ]
}

/// The list's query parameters repeated, empty or unknown, and paths with a trailing slash.
fn query_and_path_cases() -> Vec<(&'static str, Make)> {
    let id = uuid::Uuid::new_v4();
    vec![
        (
            "list limit twice",
            Box::new(|t| get(t, "/users?limit=1&limit=2").bearer(&rw(t))),
        ),
        (
            "list after empty",
            Box::new(|t| get(t, "/users?after=").bearer(&rw(t))),
        ),
        (
            "list limit empty",
            Box::new(|t| get(t, "/users?limit=").bearer(&rw(t))),
        ),
        (
            "list unknown param",
            Box::new(|t| get(t, "/users?foo=bar").bearer(&rw(t))),
        ),
        (
            "get trailing slash",
            Box::new(move |t| get(t, &format!("/users/{id}/")).bearer(&rw(t))),
        ),
        (
            "users/ trailing slash",
            Box::new(|t| get(t, "/users/").bearer(&rw(t))),
        ),
    ]
}

/// `Authorization` headers just off the `Bearer TOKEN` form.
fn authorization_cases() -> Vec<(&'static str, Make)> {
    vec![
        (
            "bearer lowercase scheme, no token",
            Box::new(|t| get(t, "/users").header("authorization", "bearer")),
        ),
        (
            "bearer double space",
            Box::new(|t| get(t, "/users").header("authorization", &format!("Bearer  {}", rw(t)))),
        ),
    ]
}

/// Emails wrapped in characters that are not ASCII whitespace.
fn email_space_cases() -> Vec<(&'static str, Make)> {
    vec![
        (
            "email with unicode space",
            Box::new(|t| {
                post(t, "/users").bearer(&rw(t)).json(&serde_json::json!({"email": format!("\u{00a0}{}\u{00a0}", crate::json::unique_email("nbsp"))}))
            }),
        ),
        (
            "email with BOM",
            Box::new(|t| {
                post(t, "/users").bearer(&rw(t)).json(&serde_json::json!({"email": format!("\u{feff}{}", crate::json::unique_email("bom"))}))
            }),
        ),
    ]
}
