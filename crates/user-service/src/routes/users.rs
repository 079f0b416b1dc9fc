//! `/users` and `/users/{id}`: the users rows of the contract.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use kit::ApiError;
use kit::auth::{Authorized, Scope};
use kit::http::json::JsonObject;
use kit::http::{json_response, parse_hyphenated_uuid, rendered_json_response};

use crate::domain::user::{NewUser, User, email_update};
use crate::store::cursor::Cursor;
use crate::store::{CreateOutcome, UserStore};

/// `users:read`: GET.
pub struct UsersRead;
impl Scope for UsersRead {
    const NAME: &'static str = "users:read";
    const MISSING: &'static str = "Missing scope users:read";
}

/// `users:write`: POST, PATCH, DELETE.
pub struct UsersWrite;
impl Scope for UsersWrite {
    const NAME: &'static str = "users:write";
    const MISSING: &'static str = "Missing scope users:write";
}

const DEFAULT_LIMIT: u32 = 20;
const MAX_LIMIT: u32 = 100;

/// The `{id}` of the path, checked before the body is read (the contract's order:
/// authentication, then the path id, then the body).
pub struct UserId(Uuid);

impl FromRequest for UserId {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let id = request
            .match_info()
            .get("id")
            .and_then(parse_hyphenated_uuid)
            .map(UserId)
            .ok_or_else(|| ApiError::BadRequest("Invalid user id".into()));
        ready(id)
    }
}

fn with_location(status: StatusCode, user: &User) -> HttpResponse {
    let mut response = json_response(status, user);
    if let Ok(location) = format!("/users/{}", user.id).parse() {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// A page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    items: Vec<User>,
    /// The cursor of the next page; `null` on the last page.
    next: Option<String>,
}

/// Query of `GET /users`, read by hand from the query string so that every bad value
/// (a repeated `limit`, say) gets the contract's message rather than a framework's.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // read by utoipa only
pub struct ListQuery {
    /// Page size, 1–100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100, nullable = false)]
    limit: Option<String>,
    /// The `next` cursor of the previous page (opaque, base64url).
    #[param(pattern = "^[A-Za-z0-9_-]+$", nullable = false)]
    after: Option<String>,
}

fn parse_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else {
        return Ok(DEFAULT_LIMIT);
    };
    let invalid = || ApiError::BadRequest("Invalid limit".into());
    if raw.is_empty() || !raw.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    // Leading zeros are digits too ("0010" is 10); a value too long for u32 is too big.
    let limit: u32 = raw.parse().map_err(|_| invalid())?;
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid())
    }
}

#[utoipa::path(
    get, path = "/users/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "User id, hyphenated UUID (either case)")),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = "The id is not a hyphenated UUID", body = crate::routes::openapi::ErrorSchema),
        (status = 401, description = "Missing or invalid bearer token; `WWW-Authenticate: Bearer`", body = crate::routes::openapi::ErrorSchema),
        (status = 403, description = "Token lacks users:read", body = crate::routes::openapi::ErrorSchema),
        (status = 404, description = "User not found", body = crate::routes::openapi::ErrorSchema),
        (status = 503, description = "Database unavailable or too slow; `Retry-After` says when to retry", body = crate::routes::openapi::ErrorSchema),
    ),
    security(("bearer" = ["users:read"]))
)]
pub async fn get_user(
    _auth: Authorized<UsersRead>,
    UserId(id): UserId,
    store: web::Data<UserStore>,
) -> Result<HttpResponse, ApiError> {
    let body = store
        .get_rendered(id)
        .await?
        .ok_or(ApiError::NotFound("User not found"))?;
    Ok(rendered_json_response(StatusCode::OK, body))
}

#[utoipa::path(
    post, path = "/users", tag = "users",
    request_body = crate::domain::user::CreateUserBody,
    responses(
        (status = 201, description = "Created; `Location` names it", body = User),
        (status = 200, description = "A retry of an earlier create with the same id and email", body = User),
        (status = 400, description = "Not JSON, or not an object", body = crate::routes::openapi::ErrorSchema),
        (status = 401, description = "Missing or invalid bearer token; `WWW-Authenticate: Bearer`", body = crate::routes::openapi::ErrorSchema),
        (status = 403, description = "Token lacks users:write", body = crate::routes::openapi::ErrorSchema),
        (status = 409, description = "Email taken, or id exists with another email", body = crate::routes::openapi::ErrorSchema),
        (status = 413, description = "Body over 64 KiB", body = crate::routes::openapi::ErrorSchema),
        (status = 415, description = "Not application/json", body = crate::routes::openapi::ErrorSchema),
        (status = 422, description = "Invalid fields, listed in `fields`", body = crate::routes::openapi::ErrorSchema),
        (status = 503, description = "Database unavailable or too slow; `Retry-After` says when to retry", body = crate::routes::openapi::ErrorSchema),
    ),
    security(("bearer" = ["users:write"]))
)]
pub async fn create_user(
    _auth: Authorized<UsersWrite>,
    body: JsonObject,
    store: web::Data<UserStore>,
) -> Result<HttpResponse, ApiError> {
    let new_user = NewUser::from_body(&body.0)?;
    Ok(match store.create(new_user.id, &new_user.email).await? {
        CreateOutcome::Created(user) => with_location(StatusCode::CREATED, &user),
        CreateOutcome::AlreadyExisted(user) => with_location(StatusCode::OK, &user),
    })
}

#[utoipa::path(
    get, path = "/users", tag = "users",
    params(ListQuery),
    responses(
        (status = 200, description = "Newest first", body = UserPage),
        (status = 400, description = "Bad limit or cursor", body = crate::routes::openapi::ErrorSchema),
        (status = 401, description = "Missing or invalid bearer token; `WWW-Authenticate: Bearer`", body = crate::routes::openapi::ErrorSchema),
        (status = 403, description = "Token lacks users:read", body = crate::routes::openapi::ErrorSchema),
        (status = 503, description = "Database unavailable or too slow; `Retry-After` says when to retry", body = crate::routes::openapi::ErrorSchema),
    ),
    security(("bearer" = ["users:read"]))
)]
pub async fn list_users(
    _auth: Authorized<UsersRead>,
    request: HttpRequest,
    store: web::Data<UserStore>,
) -> Result<HttpResponse, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(request.query_string())
        .map_err(|_| ApiError::BadRequest("Invalid query string".into()))?;
    let single = |name: &str, message: &str| -> Result<Option<&str>, ApiError> {
        let mut values = pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str());
        let first = values.next();
        match values.next() {
            Some(_) => Err(ApiError::BadRequest(message.into())),
            None => Ok(first),
        }
    };
    let limit = parse_limit(single("limit", "Invalid limit")?)?;
    let after = match single("after", "Invalid cursor")? {
        None => None,
        Some(raw) => {
            Some(Cursor::decode(raw).ok_or_else(|| ApiError::BadRequest("Invalid cursor".into()))?)
        }
    };
    let (items, next) = store.list(limit, after).await?;
    let page = UserPage {
        items,
        next: next.map(|cursor| cursor.encode()),
    };
    Ok(json_response(StatusCode::OK, &page))
}

#[utoipa::path(
    patch, path = "/users/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "User id, hyphenated UUID (either case)")),
    request_body = crate::domain::user::UpdateUserBody,
    responses(
        (status = 200, description = "The updated user", body = User),
        (status = 400, description = "The id is not a hyphenated UUID, or the body is not a JSON object", body = crate::routes::openapi::ErrorSchema),
        (status = 401, description = "Missing or invalid bearer token; `WWW-Authenticate: Bearer`", body = crate::routes::openapi::ErrorSchema),
        (status = 403, description = "Token lacks users:write", body = crate::routes::openapi::ErrorSchema),
        (status = 404, description = "User not found", body = crate::routes::openapi::ErrorSchema),
        (status = 409, description = "Email taken", body = crate::routes::openapi::ErrorSchema),
        (status = 413, description = "Body over 64 KiB", body = crate::routes::openapi::ErrorSchema),
        (status = 415, description = "Not application/json", body = crate::routes::openapi::ErrorSchema),
        (status = 422, description = "Invalid email", body = crate::routes::openapi::ErrorSchema),
        (status = 503, description = "Database unavailable or too slow; `Retry-After` says when to retry", body = crate::routes::openapi::ErrorSchema),
    ),
    security(("bearer" = ["users:write"]))
)]
pub async fn update_user(
    _auth: Authorized<UsersWrite>,
    UserId(id): UserId,
    body: JsonObject,
    store: web::Data<UserStore>,
) -> Result<HttpResponse, ApiError> {
    let email = email_update(&body.0)?;
    let user = store
        .update_email(id, &email)
        .await?
        .ok_or(ApiError::NotFound("User not found"))?;
    Ok(json_response(StatusCode::OK, &user))
}

#[utoipa::path(
    delete, path = "/users/{id}", tag = "users",
    params(("id" = String, Path, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", description = "User id, hyphenated UUID (either case)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "The id is not a hyphenated UUID", body = crate::routes::openapi::ErrorSchema),
        (status = 401, description = "Missing or invalid bearer token; `WWW-Authenticate: Bearer`", body = crate::routes::openapi::ErrorSchema),
        (status = 403, description = "Token lacks users:write", body = crate::routes::openapi::ErrorSchema),
        (status = 404, description = "User not found", body = crate::routes::openapi::ErrorSchema),
        (status = 503, description = "Database unavailable or too slow; `Retry-After` says when to retry", body = crate::routes::openapi::ErrorSchema),
    ),
    security(("bearer" = ["users:write"]))
)]
pub async fn delete_user(
    _auth: Authorized<UsersWrite>,
    UserId(id): UserId,
    store: web::Data<UserStore>,
) -> Result<HttpResponse, ApiError> {
    if store.delete(id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::NotFound("User not found"))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_limit;

    #[test]
    fn limit_is_decimal_within_range() {
        assert_eq!(parse_limit(None).ok(), Some(20));
        assert_eq!(parse_limit(Some("1")).ok(), Some(1));
        assert_eq!(parse_limit(Some("100")).ok(), Some(100));
        for bad in [
            "0",
            "101",
            "",
            "-1",
            "+5",
            "1.0",
            "abc",
            "0x10",
            "99999999999",
        ] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad:?}");
        }
    }
}
