//! `/health/live` and `/health/ready`.
//!
//! Live: 200 while the process runs. Ready: 200 when the database answers `SELECT 1`
//! within 1 s and the service is not draining; otherwise 503 naming the failing check,
//! so a load balancer stops sending traffic before we stop serving it.
//!
//! The database check is cached for [`DATABASE_CHECK_TTL`] and single-flight
//! ([`Readiness`]): a flood of probes costs one `SELECT 1` a second, not one pool
//! connection per probe. Draining is read live.

use std::future::Future;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::db::Database;
use crate::error::error_response;
use crate::shutdown::Drain;

/// How long the readiness probe waits for the database.
pub const DATABASE_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a database check answers for every probe.
pub const DATABASE_CHECK_TTL: Duration = Duration::from_secs(1);

/// The last database check and when it was made, shared by every worker.
#[derive(Debug, Default)]
pub struct Readiness {
    last: Mutex<Option<(Instant, bool)>>,
}

impl Readiness {
    /// The cached result while fresh; else runs `check` once, however many callers
    /// wait (they queue on the lock and read the fresh result).
    pub async fn database_ok<F, Fut>(&self, check: F) -> bool
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last
            && at.elapsed() < DATABASE_CHECK_TTL
        {
            return ok;
        }
        let ok = check().await;
        *last = Some((Instant::now(), ok));
        ok
    }
}

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

pub async fn ready(
    drain: web::Data<Drain>,
    readiness: web::Data<Readiness>,
    database: Option<web::Data<Database>>,
) -> HttpResponse {
    let draining = drain.is_draining();
    let database_ok = match database {
        Some(database) if !draining => {
            readiness
                .database_ok(|| database.ping(DATABASE_PROBE_TIMEOUT))
                .await
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_probe_flood_runs_one_check_per_ttl() {
        let readiness = Arc::new(Readiness::default());
        let checks = Arc::new(AtomicUsize::new(0));
        let probe = |readiness: Arc<Readiness>, checks: Arc<AtomicUsize>| async move {
            readiness
                .database_ok(|| async move {
                    checks.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    true
                })
                .await
        };
        let flood: Vec<_> = (0..200)
            .map(|_| tokio::spawn(probe(readiness.clone(), checks.clone())))
            .collect();
        for probe in flood {
            assert!(probe.await.expect("the probe task"));
        }
        assert_eq!(
            checks.load(Ordering::SeqCst),
            1,
            "200 concurrent probes, one check"
        );

        tokio::time::advance(DATABASE_CHECK_TTL).await;
        assert!(probe(readiness.clone(), checks.clone()).await);
        assert_eq!(
            checks.load(Ordering::SeqCst),
            2,
            "a stale result is checked again"
        );
    }
}
