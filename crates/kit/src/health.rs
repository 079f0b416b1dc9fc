//! `/health/live` and `/health/ready`.
//!
//! Live: 200 while the process runs. Ready: 200 when the database answers `SELECT 1`
//! within 1 s and the service is not draining; otherwise 503 naming the failing check,
//! so a load balancer stops sending traffic before we stop serving it.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db::Database;
use crate::error::error_response;
use crate::shutdown::Drain;

/// How long the readiness probe waits for the database.
pub const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Serialize)]
struct Checks {
    database: &'static str,
    draining: bool,
}

#[derive(Serialize)]
struct ChecksExtra {
    checks: Checks,
}

pub async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::http::JSON_CONTENT_TYPE)
        .body(r#"{"status":"live"}"#)
}

pub async fn ready(drain: web::Data<Drain>, database: Option<web::Data<Database>>) -> HttpResponse {
    let draining = drain.is_draining();
    let database_ok = match database {
        Some(database) if !draining => database.ping(DATABASE_PROBE_TIMEOUT).await,
        Some(_) => true,
        None => true,
    };
    let checks = Checks {
        database: if database_ok { "ok" } else { "unavailable" },
        draining,
    };
    if draining {
        error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Draining",
            ChecksExtra { checks },
        )
    } else if !database_ok {
        error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "Database unavailable",
            ChecksExtra { checks },
        )
    } else {
        #[derive(Serialize)]
        struct Ready {
            status: &'static str,
            checks: Checks,
        }
        HttpResponse::Ok()
            .content_type(crate::http::JSON_CONTENT_TYPE)
            .json(Ready {
                status: "ready",
                checks,
            })
    }
}
