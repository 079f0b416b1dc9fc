//! `/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' annotations.
//! `docs/openapi.json` is the committed copy; a test fails when the two drift
//! (regenerate with `cargo run -p user-service -- openapi > docs/openapi.json`).

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::domain::user::{CreateUserBody, UpdateUserBody, User};
use crate::process::handler::{
    InvalidRecord, ProcessRecord, ProcessRequest, ProcessResponse, ProcessStats, ProcessTag,
};
use crate::routes::users::UserPage;

/// The contract's error body.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // read by utoipa only
pub struct ErrorSchema {
    /// A short human message.
    error: String,
    /// The `x-request-id` of the request.
    request_id: String,
    /// On 422: field name → reason.
    fields: Option<std::collections::BTreeMap<String, String>>,
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "user-service", description = "The users API of docs/contract.md."),
    paths(
        super::users::get_user,
        super::users::list_users,
        super::users::create_user,
        super::users::update_user,
        super::users::delete_user,
        crate::process::handler::process,
    ),
    components(schemas(
        User,
        UserPage,
        CreateUserBody,
        UpdateUserBody,
        ErrorSchema,
        ProcessRequest,
        ProcessRecord,
        ProcessTag,
        ProcessResponse,
        ProcessStats,
        InvalidRecord
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "users", description = "Users CRUD"),
        (name = "process", description = "CPU-bound batch processing")
    )
)]
pub struct ApiDoc;

/// The document as pretty JSON, rendered once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        ApiDoc::openapi().to_pretty_json().unwrap_or_else(|error| {
            format!(r#"{{"error":"cannot render the OpenAPI document: {error}"}}"#)
        })
    })
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(kit::http::JSON_CONTENT_TYPE)
        .body(document())
}
