//! The client-side deadline of a database call.
//!
//! The server's `statement_timeout` ends a slow statement, but only a server that
//! answers can send that error: with the database blackholed (packets dropped, no reset)
//! a query waits for TCP to give up, which takes many minutes. So every store call runs
//! within `[database] query_timeout_ms`, and past it the request is answered 503.
//! The default sits above `statement_timeout_ms`, so that a slow statement normally ends
//! with the server's own clean 57014 and its connection stays usable.

use std::future::Future;
use std::time::Duration;

/// A database call ran past its deadline.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the database did not answer within {0:?}")]
pub struct DeadlineExceeded(pub Duration);

/// Runs `call` within `deadline`; past it, `call` is dropped and the error is
/// [`DeadlineExceeded`].
pub async fn within<T, E>(
    deadline: Duration,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E>
where
    E: From<DeadlineExceeded>,
{
    match tokio::time::timeout(deadline, call).await {
        Ok(result) => result,
        Err(_elapsed) => Err(DeadlineExceeded(deadline).into()),
    }
}
