//! The service's routes. The shared ones (`/health/*`, `/metrics`) come from the kit.

pub mod openapi;
pub mod users;

use actix_web::web;

use kit::http::limits::method_not_allowed;

/// Adds the users API and `/openapi.json`.
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
        .route("/openapi.json", web::get().to(openapi::serve));
}
