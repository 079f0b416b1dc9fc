//! A user as the API shows it, and the validated input that creates or changes one.

use std::collections::BTreeMap;

use actix_web::web::Bytes;
use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::email::Email;
use super::error::InvalidFields;

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct User {
    #[schema(example = "0193a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b")]
    pub id: Uuid,
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-28T12:34:56.789Z")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339_millis")]
    #[schema(value_type = String, format = DateTime, example = "2026-11-28T12:34:56.789Z")]
    pub updated_at: DateTime<Utc>,
}

impl User {
    /// The JSON body the API sends for this user, rendered once so the cache can keep
    /// it (a cached read then costs no serialisation).
    pub fn render(&self) -> Bytes {
        serde_json::to_vec(self)
            .expect("a User always serialises: plain fields, no maps, no fallible Serialize impl")
            .into()
    }
}

pub use parsing::cursor::format_millis;

fn rfc3339_millis<S: Serializer>(
    instant: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_millis(instant))
}

/// `POST /users` body.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // read by utoipa only
pub struct CreateUserBody {
    /// Optional client-chosen id, a hyphenated UUID: repeating the same body with the
    /// same id is a safe retry.
    #[schema(value_type = Option<String>, format = Uuid, pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")]
    id: Option<Uuid>,
    /// An addr-spec, at most 254 characters; compared case-insensitively.
    #[schema(format = Email, min_length = 3, max_length = 254, example = "ada@example.com")]
    email: String,
}

/// `PATCH /users/{id}` body.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // read by utoipa only
pub struct UpdateUserBody {
    /// An addr-spec, at most 254 characters; compared case-insensitively.
    #[schema(format = Email, min_length = 3, max_length = 254, example = "ada@example.com")]
    email: String,
}

/// A validated `POST /users` body.
#[derive(Debug)]
pub struct NewUser {
    pub id: Option<Uuid>,
    pub email: Email,
}

const EMAIL_REASON: &str = "must be a valid email address";
const ID_REASON: &str = "must be a UUID in hyphenated form";

fn email_field(body: &Map<String, Value>) -> Result<Email, &'static str> {
    body.get("email")
        .and_then(Value::as_str)
        .and_then(Email::parse)
        .ok_or(EMAIL_REASON)
}

impl NewUser {
    /// Validates every field, naming each invalid one.
    pub fn from_body(body: &Map<String, Value>) -> Result<NewUser, InvalidFields> {
        let email = email_field(body);
        let id = match body.get("id") {
            // `null` is the same as leaving it out (docs/contract.md).
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => kit::http::parse_hyphenated_uuid(text)
                .map(Some)
                .ok_or(ID_REASON),
            Some(_) => Err(ID_REASON),
        };
        match (email, id) {
            (Ok(email), Ok(id)) => Ok(NewUser { id, email }),
            (email, id) => {
                let mut fields = BTreeMap::new();
                if let Err(reason) = email {
                    fields.insert("email", reason);
                }
                if let Err(reason) = id {
                    fields.insert("id", reason);
                }
                Err(InvalidFields { fields })
            }
        }
    }
}

/// Validates a `PATCH /users/{id}` body: the new email.
pub fn email_update(body: &Map<String, Value>) -> Result<Email, InvalidFields> {
    email_field(body).map_err(|reason| InvalidFields::one("email", reason))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn renders_three_fraction_digits_and_z() {
        let instant = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("a valid date");
        assert_eq!(format_millis(&instant), "2026-01-02T03:04:05.000Z");
    }

    #[test]
    fn names_every_invalid_field() {
        let body = serde_json::json!({"email": 5, "id": "nope"});
        let Err(InvalidFields { fields }) =
            NewUser::from_body(body.as_object().expect("object literal"))
        else {
            panic!("both fields are invalid");
        };
        assert_eq!(fields.keys().copied().collect::<Vec<_>>(), ["email", "id"]);
    }
}
