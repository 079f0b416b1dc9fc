//! The HTTP edge of the domain's errors: each maps to the contract's answer here, so the
//! domain (and its tests) need no HTTP types.

use kit::ApiError;

use crate::domain::error::InvalidFields;

/// 422 `Validation failed` with `fields` (docs/contract.md, "Errors").
impl From<InvalidFields> for ApiError {
    fn from(invalid: InvalidFields) -> Self {
        ApiError::Validation {
            fields: invalid.fields,
        }
    }
}

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;
    use actix_web::body::MessageBody;
    use actix_web::http::StatusCode;

    use super::*;

    #[test]
    fn invalid_fields_are_a_422_naming_each_field() {
        let mut invalid = InvalidFields::one("email", "must be a valid email address");
        invalid
            .fields
            .insert("id", "must be a UUID in hyphenated form");
        let response = ApiError::from(invalid).error_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = response
            .into_body()
            .try_into_bytes()
            .expect("an error body is one buffer");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("a JSON body");
        assert_eq!(body["error"], "Validation failed");
        assert_eq!(
            body["fields"],
            serde_json::json!({
                "email": "must be a valid email address",
                "id": "must be a UUID in hyphenated form",
            })
        );
    }
}
