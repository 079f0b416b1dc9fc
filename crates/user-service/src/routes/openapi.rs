//! `/openapi.json`: the OpenAPI 3.1 document, generated from the handlers' annotations.
//! `docs/openapi.json` is the committed copy; a test fails when the two drift
//! (regenerate with `cargo run -p user-service -- openapi > docs/openapi.json`).

use std::sync::OnceLock;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use crate::domain::user::{CreateUserBody, UpdateUserBody, User};
use crate::process::handler::{
    InvalidRecord, ProcessRecord, ProcessResponse, ProcessStats, ProcessTag,
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

// Why records are of any type: an invalid record is counted and listed in the answer,
// not rejected, so a stricter request schema would tell generated clients (and
// Schemathesis) that a 200 answer to a malformed record is wrong.
/// The request body. A valid record has the shape of `ProcessRecord`; any other element
/// is listed in `invalid`.
#[derive(ToSchema)]
#[schema(as = ProcessRequest)]
#[allow(dead_code)] // read by utoipa only
pub struct ProcessRequestSchema {
    /// 1 to 10,000 records (more: 413).
    #[schema(min_items = 1, max_items = 10000)]
    records: Vec<serde_json::Value>,
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

/// Puts [`ProcessRequestSchema`] in place of the schema derived from the handler's
/// documentation type.
struct LenientProcessRequest;

impl Modify for LenientProcessRequest {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.schemas.insert(
            ProcessRequestSchema::name().into_owned(),
            ProcessRequestSchema::schema(),
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
        ProcessRecord,
        ProcessTag,
        ProcessResponse,
        ProcessStats,
        InvalidRecord
    )),
    modifiers(&BearerAuth, &LenientProcessRequest),
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
