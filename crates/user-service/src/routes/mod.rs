//! The service's routes. The shared ones (`/health/*`, `/metrics`, `/openapi.json`
//! from `openapi::document`) come from the kit.

mod errors;
pub mod openapi;
pub mod users;

use actix_web::web;

use kit::http::json::BodyLimit;
use kit::http::limits::method_not_allowed;

/// Adds the users API and `/api/v1/process`. The app data they need (the `UserStore`,
/// the `ProcessPool`, the `JwtVerifier`) is the app's own, added by `startup`.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(
            web::resource("/users")
                .route(web::get().to(users::list_users))
                .route(web::post().to(users::create_user))
                .default_service(method_not_allowed("GET, POST")),
        )
        .service(
            web::resource("/users/{id}")
                .route(web::get().to(users::get_user))
                .route(web::patch().to(users::update_user))
                .route(web::delete().to(users::delete_user))
                .default_service(method_not_allowed("GET, PATCH, DELETE")),
        )
        .service(
            web::resource("/api/v1/process")
                .app_data(BodyLimit(8 * 1024 * 1024))
                .route(web::post().to(crate::process::handler::process))
                .default_service(method_not_allowed("POST")),
        );
}
