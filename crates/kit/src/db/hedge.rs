//! A hedged read: when the first way to read has not answered after a short delay, a
//! second way starts too, and the first success wins ("The Tail at Scale", Dean and
//! Barroso, 2013).
//!
//! Why: the pipelined point reads (`super::pipelined`) share one or two long-lived
//! PostgreSQL backends. When the machine is oversubscribed, the scheduler can leave one
//! backend off the CPU for hundreds of milliseconds, and every read queued on it waits
//! (the lab measured a 361 ms burst p99 against the pool's 8 ms in the same run). The
//! SQLx pool spreads reads over many backends, so the service sends a read that is late
//! on the pipelined path through the pool as well. Only reads, which are safe to run
//! twice; only late ones, so at normal latency nothing is sent twice.
//!
//! Setting: `[database] read_hedge_ms` (0: never). Metric: `db_read_hedges_total`, the
//! reads that were sent the second way.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

static HEDGES: LazyLock<metrics::Counter> =
    LazyLock::new(|| crate::metrics::counter("db_read_hedges_total"));

/// Runs `first`; when it has not answered within `after` (zero: never hedge), starts `second` as well and
/// returns the first `Ok`. When one fails, the other is still awaited; when both fail,
/// the error is `first`'s (the way that is normally taken). An answer of `first` before
/// `after` (`Ok` or `Err`) is returned as it is, so its fast refusals (a full queue)
/// keep shedding load.
pub async fn hedged<T, E, Second>(
    first: impl Future<Output = Result<T, E>>,
    after: Duration,
    second: impl FnOnce() -> Second,
) -> Result<T, E>
where
    Second: Future<Output = Result<T, E>>,
{
    let mut first = std::pin::pin!(first);
    if after.is_zero() {
        return first.await;
    }
    if let Ok(answer) = tokio::time::timeout(after, first.as_mut()).await {
        return answer;
    }
    HEDGES.increment(1);
    let mut second = std::pin::pin!(second());
    tokio::select! {
        answer = first.as_mut() => match answer {
            Ok(found) => Ok(found),
            Err(error) => second.await.map_err(|_| error),
        },
        answer = second.as_mut() => match answer {
            Ok(found) => Ok(found),
            Err(_) => first.await,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AFTER: Duration = Duration::from_millis(10);

    async fn answer(after_ms: u64, answer: Result<u32, &'static str>) -> Result<u32, &'static str> {
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        answer
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_in_time_is_taken_and_nothing_is_sent_twice() {
        let hedged = hedged(answer(5, Err("full")), AFTER, || async {
            panic!("the second way is not started")
        });
        assert_eq!(hedged.await, Err("full"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_read_takes_the_first_success_of_either_way() {
        assert_eq!(
            hedged(answer(1000, Ok(1)), AFTER, || answer(5, Ok(2))).await,
            Ok(2)
        );
        assert_eq!(
            hedged(answer(20, Ok(1)), AFTER, || answer(1000, Ok(2))).await,
            Ok(1)
        );
        assert_eq!(
            hedged(answer(1000, Ok(1)), AFTER, || answer(5, Err("pool"))).await,
            Ok(1),
            "a failed second way waits for the first"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn when_both_ways_fail_the_error_is_the_first_ways() {
        assert_eq!(
            hedged(answer(20, Err("first")), AFTER, || answer(
                30,
                Err("second")
            ))
            .await,
            Err("first")
        );
        assert_eq!(
            hedged(answer(40, Err("first")), AFTER, || answer(
                30,
                Err("second")
            ))
            .await,
            Err("first")
        );
    }
}
