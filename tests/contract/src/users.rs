//! The users rows of the contract: GET, POST (idempotent with `id`), list, PATCH, DELETE.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::Target;
use crate::http::{Reply, delete, get, patch, post};
use crate::json::{is_lower_uuid, is_timestamp_ms, is_uuid_v7, unique_email};
use crate::tokens::rw;

/// Asserts `body` is a user `{"id","email","created_at","updated_at"}` in the contract's
/// formats.
pub fn assert_user(reply: &Reply, body: &Value) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("{}: a user is an object", reply.context()));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        ["created_at", "email", "id", "updated_at"],
        "{}: the members of a user",
        reply.context()
    );
    let id = body["id"].as_str().unwrap_or_default();
    assert!(
        is_lower_uuid(id),
        "{}: id is a lowercase hyphenated UUID",
        reply.context()
    );
    for field in ["created_at", "updated_at"] {
        let value = body[field].as_str().unwrap_or_default();
        assert!(
            is_timestamp_ms(value),
            "{}: {field} {value:?} is RFC 3339 UTC with exactly 3 fraction digits and Z",
            reply.context()
        );
    }
}

/// Creates a user with `email`, asserting 201; returns the body.
pub async fn create(target: &Target, email: &str) -> Value {
    let reply = post(target, "/users")
        .bearer(&rw(target))
        .json(&json!({ "email": email }))
        .send()
        .await;
    reply.assert_status(201).assert_json_type();
    reply.json()
}

pub async fn users_create_returns_201_location_and_user(target: &Target) {
    let email = unique_email("Create");
    let reply = post(target, "/users")
        .bearer(&rw(target))
        .json(&json!({ "email": email, "ignored": [1, 2] }))
        .send()
        .await;
    reply.assert_status(201).assert_json_type();
    reply.request_id();
    let body = reply.json();
    assert_user(&reply, &body);
    let id = body["id"].as_str().expect("id");
    assert_eq!(
        body["email"],
        email,
        "{}: email stored as given",
        reply.context()
    );
    assert!(
        is_uuid_v7(id),
        "{}: a generated id is a UUID v7",
        reply.context()
    );
    assert_eq!(
        reply.header("location"),
        Some(format!("/users/{id}").as_str()),
        "{}: Location",
        reply.context()
    );
    assert_eq!(
        body["created_at"],
        body["updated_at"],
        "{}: a new user's updated_at equals created_at",
        reply.context()
    );
}

pub async fn users_get_returns_the_user(target: &Target) {
    let created = create(target, &unique_email("get")).await;
    let id = created["id"].as_str().expect("id");
    let reply = get(target, &format!("/users/{id}"))
        .bearer(&rw(target))
        .send()
        .await;
    reply.assert_status(200).assert_json_type();
    reply.request_id();
    let body = reply.json();
    assert_user(&reply, &body);
    assert_eq!(
        body,
        created,
        "{}: GET returns what POST returned",
        reply.context()
    );
}

pub async fn users_get_unknown_is_404(target: &Target) {
    let id = uuid::Uuid::new_v4();
    let reply = get(target, &format!("/users/{id}"))
        .bearer(&rw(target))
        .send()
        .await;
    reply.assert_error(404, "User not found");
}

pub async fn users_get_accepts_uppercase_id(target: &Target) {
    let created = create(target, &unique_email("upper")).await;
    let id = created["id"].as_str().expect("id").to_ascii_uppercase();
    let reply = get(target, &format!("/users/{id}"))
        .bearer(&rw(target))
        .send()
        .await;
    reply.assert_status(200);
    assert_eq!(
        reply.json(),
        created,
        "{}: an uppercase id finds the user, rendered lowercase",
        reply.context()
    );
}

pub async fn users_create_with_id_is_idempotent(target: &Target) {
    let token = rw(target);
    let id = uuid::Uuid::new_v4().to_string();
    let email = unique_email("Idem");
    let created = create_with_id(target, &token, &email, &id).await;
    retries_return_the_stored_user(target, &token, &email, &id, &created).await;
    another_email_for_the_id_is_409(target, &token, &id).await;

    // Exactly one user with that id exists.
    let reply = get(target, &format!("/users/{id}"))
        .bearer(&token)
        .send()
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json(), created, "{}", reply.context());
}

/// Creates a user with the client's `id`: 201, that id, and its Location. Returns the user.
async fn create_with_id(target: &Target, token: &str, email: &str, id: &str) -> Value {
    let first = post(target, "/users")
        .bearer(token)
        .json(&json!({ "email": email, "id": id }))
        .send()
        .await;
    first.assert_status(201);
    let created = first.json();
    assert_user(&first, &created);
    assert_eq!(
        created["id"],
        id,
        "{}: the client's id is used",
        first.context()
    );
    assert_eq!(
        first.header("location"),
        Some(format!("/users/{id}").as_str()),
        "{}: Location",
        first.context()
    );
    created
}

/// The same body again, then the same email modulo case and white space (and the id in
/// upper case): 200 with the stored user.
async fn retries_return_the_stored_user(
    target: &Target,
    token: &str,
    email: &str,
    id: &str,
    created: &Value,
) {
    // The same body again: 200 with the stored user and Location.
    let again = post(target, "/users")
        .bearer(token)
        .json(&json!({ "email": email, "id": id }))
        .send()
        .await;
    again.assert_status(200).assert_json_type();
    assert_eq!(
        again.json(),
        *created,
        "{}: a retry returns the stored user",
        again.context()
    );
    assert_eq!(
        again.header("location"),
        Some(format!("/users/{id}").as_str()),
        "{}: Location on the idempotent 200",
        again.context()
    );

    // Same email modulo case and white space: still the same user.
    let variant = format!("  {}\t", email.to_uppercase());
    let again = post(target, "/users")
        .bearer(token)
        .json(&json!({ "email": variant, "id": id.to_uppercase() }))
        .send()
        .await;
    again.assert_status(200);
    assert_eq!(
        again.json(),
        *created,
        "{}: case and white space of the email do not matter",
        again.context()
    );
}

/// The same id with another email, free or held by another user: 409.
async fn another_email_for_the_id_is_409(target: &Target, token: &str, id: &str) {
    // Same id, another email: 409.
    let other = post(target, "/users")
        .bearer(token)
        .json(&json!({ "email": unique_email("other"), "id": id }))
        .send()
        .await;
    other.assert_error(409, "User id exists with another email");

    // Same id, another email that another user holds: still about the id? The id
    // conflict is what the client asked about; both implementations must at least 409.
    let holder = create(target, &unique_email("holder")).await;
    let conflict = post(target, "/users")
        .bearer(token)
        .json(&json!({ "email": holder["email"], "id": id }))
        .send()
        .await;
    conflict.assert_some_error(409);
}

pub async fn users_create_duplicate_email_is_409(target: &Target) {
    let email = unique_email("dup");
    create(target, &email).await;
    for variant in [
        email.clone(),
        email.to_uppercase(),
        format!(" {email} "),
        format!("\n{}", email.to_uppercase()),
    ] {
        let reply = post(target, "/users")
            .bearer(&rw(target))
            .json(&json!({ "email": variant }))
            .send()
            .await;
        reply.assert_error(409, "Email already taken");
    }
    // A new id with a taken email is also `Email already taken`.
    let reply = post(target, "/users")
        .bearer(&rw(target))
        .json(&json!({ "email": email, "id": uuid::Uuid::new_v4().to_string() }))
        .send()
        .await;
    reply.assert_error(409, "Email already taken");
}

/// Emails that must be refused with 422 `fields.email`.
pub fn invalid_emails() -> Vec<Value> {
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_total = format!("{}@{}.com", "a".repeat(60), "b".repeat(63)) + &".c".repeat(100);
    let long_label = format!("a@{}.com", "b".repeat(64));
    vec![
        json!(null),
        json!(42),
        json!(true),
        json!(["a@example.com"]),
        json!({"email": "a@example.com"}),
        json!(""),
        json!("   "),
        json!("plainaddress"),
        json!("@example.com"),
        json!("a@"),
        json!("a@example"),
        json!("a@@example.com"),
        json!("a b@example.com"),
        json!(".a@example.com"),
        json!("a.@example.com"),
        json!("a..b@example.com"),
        json!("a@-example.com"),
        json!("a@example-.com"),
        json!("a@example..com"),
        json!("a@.example.com"),
        json!("a@example.com."),
        json!("\"quoted\"@example.com"),
        json!("a@[127.0.0.1]"),
        json!("jörg@example.com"),
        json!("a@exämple.com"),
        json!("a(comment)@example.com"),
        json!("a@exa_mple.com"),
        json!(long_local),
        json!(long_total),
        json!(long_label),
    ]
}

pub async fn users_create_invalid_email_is_422(target: &Target) {
    let token = rw(target);
    for email in invalid_emails() {
        let reply = post(target, "/users")
            .bearer(&token)
            .json(&json!({ "email": email }))
            .send()
            .await;
        let body = reply.assert_error(422, "Validation failed");
        assert!(
            body["fields"]["email"].is_string(),
            "{}: email {email} must be listed in fields.email",
            reply.context()
        );
    }
    let reply = post(target, "/users")
        .bearer(&token)
        .json(&json!({ "name": "no email" }))
        .send()
        .await;
    let body = reply.assert_error(422, "Validation failed");
    assert!(
        body["fields"]["email"].is_string(),
        "{}: a missing email is listed in fields.email",
        reply.context()
    );
}

pub async fn users_create_accepts_valid_emails(target: &Target) {
    let token = rw(target);
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let local64 = format!("{unique}{}", "x".repeat(64 - unique.len()));
    // 254 chars in all: local 64 + '@' + domain 189.
    let domain189 = format!(
        "{}.{}.{}.com",
        "d".repeat(61),
        "e".repeat(61),
        "f".repeat(61)
    );
    assert_eq!(domain189.len(), 189);
    let cases = vec![
        (format!("{local64}@example.com"), None),
        (format!("{local64}@{domain189}"), None),
        (
            format!("a.b-c+d_{unique}!#$%&'*/=?^`{{|}}~@sub.example-domain.org"),
            None,
        ),
        (
            format!("  Trim.{unique}@Example.COM \t"),
            Some(format!("Trim.{unique}@Example.COM")),
        ),
        (format!("x{unique}@a.b"), None),
    ];
    for (email, stored) in cases {
        let reply = post(target, "/users")
            .bearer(&token)
            .json(&json!({ "email": email }))
            .send()
            .await;
        reply.assert_status(201);
        let body = reply.json();
        assert_user(&reply, &body);
        let expected = stored.unwrap_or_else(|| email.clone());
        assert_eq!(
            body["email"].as_str(),
            Some(expected.as_str()),
            "{}: the email is stored as given (trimmed, case kept)",
            reply.context()
        );
    }
}

pub async fn users_create_invalid_id_is_422(target: &Target) {
    let token = rw(target);
    for id in [
        json!("not-a-uuid"),
        json!("{00000000-0000-0000-0000-000000000000}"),
        json!("urn:uuid:6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        json!("6ba7b8109dad11d180b400c04fd430c8"),
        json!("6ba7b810-9dad-11d1-80b4-00c04fd430c8a"),
        json!("6ba7b810-9dad-11d1-80b4-00c04fd430cg"),
        json!(42),
        json!(["6ba7b810-9dad-11d1-80b4-00c04fd430c8"]),
    ] {
        let reply = post(target, "/users")
            .bearer(&token)
            .json(&json!({ "email": unique_email("badid"), "id": id }))
            .send()
            .await;
        let body = reply.assert_error(422, "Validation failed");
        assert!(
            body["fields"]["id"].is_string(),
            "{}: id {id} must be listed in fields.id",
            reply.context()
        );
    }
}

pub async fn users_patch_updates_email(target: &Target) {
    let token = rw(target);
    let created = create(target, &unique_email("patch")).await;
    let id = created["id"].as_str().expect("id");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let new_email = unique_email("Patched");
    let reply = patch(target, &format!("/users/{id}"))
        .bearer(&token)
        .json(&json!({ "email": new_email, "id": "ignored" }))
        .send()
        .await;
    reply.assert_status(200).assert_json_type();
    let body = reply.json();
    assert_user(&reply, &body);
    assert_eq!(body["id"], created["id"], "{}: same id", reply.context());
    assert_eq!(body["email"], new_email, "{}: new email", reply.context());
    assert_eq!(
        body["created_at"],
        created["created_at"],
        "{}: created_at unchanged",
        reply.context()
    );
    assert!(
        body["updated_at"].as_str() > created["updated_at"].as_str(),
        "{}: updated_at moves forward (was {})",
        reply.context(),
        created["updated_at"]
    );
    // Changing only the case of one's own email is allowed.
    let upper = new_email.to_uppercase();
    let reply = patch(target, &format!("/users/{id}"))
        .bearer(&token)
        .json(&json!({ "email": upper }))
        .send()
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["email"], upper, "{}", reply.context());
    // GET sees it.
    let reply = get(target, &format!("/users/{id}"))
        .bearer(&token)
        .send()
        .await;
    reply.assert_status(200);
    assert_eq!(reply.json()["email"], upper, "{}", reply.context());
}

pub async fn users_patch_errors(target: &Target) {
    let token = rw(target);
    let a = create(target, &unique_email("pa")).await;
    let b = create(target, &unique_email("pb")).await;
    let a_id = a["id"].as_str().expect("id");
    // 409: another user's email, in another case.
    let reply = patch(target, &format!("/users/{a_id}"))
        .bearer(&token)
        .json(&json!({ "email": b["email"].as_str().expect("email").to_uppercase() }))
        .send()
        .await;
    reply.assert_error(409, "Email already taken");
    // 422: invalid or missing email.
    for body in [
        json!({ "email": "nope" }),
        json!({}),
        json!({ "email": null }),
    ] {
        let reply = patch(target, &format!("/users/{a_id}"))
            .bearer(&token)
            .json(&body)
            .send()
            .await;
        let error = reply.assert_error(422, "Validation failed");
        assert!(
            error["fields"]["email"].is_string(),
            "{}: fields.email",
            reply.context()
        );
    }
    // 404: unknown id.
    let reply = patch(target, &format!("/users/{}", uuid::Uuid::new_v4()))
        .bearer(&token)
        .json(&json!({ "email": unique_email("ghost") }))
        .send()
        .await;
    reply.assert_error(404, "User not found");
    // Nothing changed.
    let reply = get(target, &format!("/users/{a_id}"))
        .bearer(&token)
        .send()
        .await;
    assert_eq!(
        reply.json(),
        a,
        "{}: failed PATCHes change nothing",
        reply.context()
    );
}

pub async fn users_delete(target: &Target) {
    let token = rw(target);
    let email = unique_email("del");
    let created = create(target, &email).await;
    let id = created["id"].as_str().expect("id");
    let reply = delete(target, &format!("/users/{id}"))
        .bearer(&token)
        .send()
        .await;
    reply.assert_status(204);
    assert!(
        reply.body.is_empty(),
        "{}: 204 has no body",
        reply.context()
    );
    reply.request_id();
    let reply = get(target, &format!("/users/{id}"))
        .bearer(&token)
        .send()
        .await;
    reply.assert_error(404, "User not found");
    let reply = delete(target, &format!("/users/{id}"))
        .bearer(&token)
        .send()
        .await;
    reply.assert_error(404, "User not found");
    let reply = patch(target, &format!("/users/{id}"))
        .bearer(&token)
        .json(&json!({ "email": unique_email("gone") }))
        .send()
        .await;
    reply.assert_error(404, "User not found");
    // The email is free again.
    create(target, &email).await;
}

fn decode_cursor(cursor: &str) -> String {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).unwrap_or_else(|error| {
        panic!("cursor {cursor:?} is not base64url without padding: {error}")
    });
    String::from_utf8(bytes).expect("a cursor decodes to text")
}

async fn list(target: &Target, query: &str) -> Reply {
    get(target, &format!("/users{query}"))
        .bearer(&rw(target))
        .send()
        .await
}

pub async fn users_list_pagination_newest_first(target: &Target) {
    let mut mine = Vec::new();
    for _ in 0..7 {
        mine.push(create(target, &unique_email("page")).await);
    }
    let seen = walk_pages(target).await;
    assert_newest_first(target, &seen);
    assert_each_once_in_reverse_order(target, &mine, &seen);
}

/// Walks the whole list in pages of 3, checking each page and its cursor; returns every
/// item in the order listed.
async fn walk_pages(target: &Target) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let mut query = "?limit=3".to_string();
    let mut pages = 0;
    loop {
        let reply = list(target, &query).await;
        let body = checked_page(&reply);
        let items = body["items"].as_array().expect("items is an array");
        seen.extend(items.iter().cloned());
        pages += 1;
        assert!(pages < 10_000, "pagination does not end");
        match &body["next"] {
            Value::Null => break,
            Value::String(cursor) => {
                assert_cursor_of_last(&reply, items, cursor);
                query = format!("?limit=3&after={cursor}");
            }
            other => panic!(
                "{}: next must be a string or null, got {other}",
                reply.context()
            ),
        }
    }
    seen
}

/// A page: 200 JSON with exactly `items` and `next`, at most 3 users. Returns its body.
fn checked_page(reply: &Reply) -> Value {
    reply.assert_status(200).assert_json_type();
    let body = reply.json();
    let object = body.as_object().expect("a page is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["items", "next"], "{}: page members", reply.context());
    let items = body["items"].as_array().expect("items is an array");
    assert!(items.len() <= 3, "{}: at most limit items", reply.context());
    for item in items {
        assert_user(reply, item);
    }
    body
}

/// A page with `next` is full, and `next` is base64url of its last item's
/// `<created_at>|<id>`.
fn assert_cursor_of_last(reply: &Reply, items: &[Value], cursor: &str) {
    assert_eq!(
        items.len(),
        3,
        "{}: a page with `next` is full",
        reply.context()
    );
    let last = items.last().expect("a full page");
    assert_eq!(
        decode_cursor(cursor),
        format!(
            "{}|{}",
            last["created_at"].as_str().expect("created_at"),
            last["id"].as_str().expect("id")
        ),
        "{}: the cursor is base64url of `<created_at>|<id>` of the last item",
        reply.context()
    );
}

/// Newest first on (created_at, id), strictly: no duplicates.
fn assert_newest_first(target: &Target, seen: &[Value]) {
    for pair in seen.windows(2) {
        let key = |user: &Value| {
            (
                user["created_at"].as_str().unwrap_or_default().to_string(),
                user["id"].as_str().unwrap_or_default().to_string(),
            )
        };
        assert!(
            key(&pair[0]) > key(&pair[1]),
            "[{}] list is newest first on (created_at, id): {} then {}",
            target.name,
            pair[0],
            pair[1]
        );
    }
}

/// Each of `mine` appears once in the walk, the later ones first.
fn assert_each_once_in_reverse_order(target: &Target, mine: &[Value], seen: &[Value]) {
    for user in mine {
        assert_eq!(
            seen.iter().filter(|item| item["id"] == user["id"]).count(),
            1,
            "[{}] user {} appears exactly once in the walk",
            target.name,
            user["id"]
        );
    }
    // My users are in reverse creation order.
    let positions: Vec<usize> = mine
        .iter()
        .map(|user| {
            seen.iter()
                .position(|item| item["id"] == user["id"])
                .expect("seen")
        })
        .collect();
    assert!(
        positions.windows(2).all(|pair| pair[0] > pair[1]),
        "[{}] later users come first: positions {positions:?}",
        target.name
    );
}

pub async fn users_list_default_limit_is_20(target: &Target) {
    for _ in 0..21 {
        create(target, &unique_email("deflimit")).await;
    }
    let reply = list(target, "").await;
    reply.assert_status(200);
    let body = reply.json();
    assert_eq!(
        body["items"].as_array().map(Vec::len),
        Some(20),
        "{}: default limit 20",
        reply.context()
    );
    assert!(body["next"].is_string(), "{}: more pages", reply.context());
    let reply = list(target, "?limit=1").await;
    reply.assert_status(200);
    assert_eq!(reply.json()["items"].as_array().map(Vec::len), Some(1));
    let reply = list(target, "?limit=100").await;
    reply.assert_status(200);
    let count = reply.json()["items"].as_array().map(Vec::len).unwrap_or(0);
    assert!(
        (21..=100).contains(&count),
        "{}: limit=100 returns up to 100",
        reply.context()
    );
}

pub async fn users_list_limit_bounds(target: &Target) {
    for limit in [
        "0",
        "101",
        "-1",
        "abc",
        "",
        "1.5",
        "+5",
        " 5",
        "5 ",
        "1e1",
        "0x10",
        "1000",
        "99999999999999999999",
    ] {
        let query = format!("?limit={}", limit.replace(' ', "%20").replace('+', "%2B"));
        let reply = list(target, &query).await;
        reply.assert_error(400, "Invalid limit");
    }
    // Decimal digits with a value 1–100: leading zeros are still decimal digits.
    for limit in ["1", "100", "007", "0010"] {
        let reply = list(target, &format!("?limit={limit}")).await;
        reply.assert_status(200);
    }
}

pub async fn users_list_bad_cursor(target: &Target) {
    create(target, &unique_email("cursor")).await;
    let forged = |text: &str| URL_SAFE_NO_PAD.encode(text.as_bytes());
    let id = uuid::Uuid::new_v4();
    for cursor in [
        "garbage!".to_string(),
        "%25%25%25".to_string(),
        "abc".to_string(),
        forged("hello"),
        forged(&format!("2024-01-01T00:00:00.000Z{id}")),
        forged(&format!("2024-01-01T00:00:00Z|{id}")),
        forged("2024-01-01T00:00:00.000Z|not-a-uuid"),
        forged(&format!("2024-13-01T00:00:00.000Z|{id}")),
        format!("{}==", forged(&format!("2024-01-01T00:00:00.000Z|{id}"))),
    ] {
        let reply = list(target, &format!("?after={cursor}")).await;
        reply.assert_error(400, "Invalid cursor");
    }
    // A cursor built the contract's way is accepted.
    let cursor = forged(&format!("2024-01-01T00:00:00.000Z|{id}"));
    let reply = list(target, &format!("?after={cursor}")).await;
    reply.assert_status(200);
    // Limit is checked before the cursor.
    let reply = list(target, "?limit=0&after=garbage").await;
    reply.assert_error(400, "Invalid limit");
}
