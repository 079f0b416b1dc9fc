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
//! Settings: `[database] read_hedge_ms` (0: never); at most half the pool's connections
//! serve hedged reads at once. Metric: `db_read_hedges_total`, the reads that were sent
//! the second way.

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::Semaphore;

static HEDGES: LazyLock<metrics::Counter> =
    LazyLock::new(|| crate::metrics::counter("db_read_hedges_total"));

/// When a read is late, and how many late reads may take the second way at once.
#[derive(Debug)]
pub struct Hedge {
    after: Duration,
    /// Bounds the extra load: past it a late read waits for a place (or its first way's
    /// answer), so that a long stall cannot move every read onto the pool at once and
    /// take the connections the writes need.
    in_flight: Semaphore,
}

impl Hedge {
    /// Hedges reads late by `after` (zero: never), at most `in_flight` at a time.
    pub fn new(after: Duration, in_flight: usize) -> Self {
        Hedge {
            after,
            in_flight: Semaphore::new(in_flight),
        }
    }

    /// Never hedges.
    pub fn never() -> Self {
        Hedge::new(Duration::ZERO, 0)
    }

    /// Runs `first`; when it has not answered within `after`, and once a place is free,
    /// starts `second` as well and returns the first `Ok`. When one fails, the other is
    /// still awaited; when both fail, the error is `first`'s (the way that is normally
    /// taken). An answer of `first` before `after` (`Ok` or `Err`) is returned as it is,
    /// so its fast refusals (a full queue) keep shedding load.
    pub async fn run<T, E, Second>(
        &self,
        first: impl Future<Output = Result<T, E>>,
        second: impl FnOnce() -> Second,
    ) -> Result<T, E>
    where
        Second: Future<Output = Result<T, E>>,
    {
        let mut first = std::pin::pin!(first);
        if self.after.is_zero() {
            return first.await;
        }
        if let Ok(answer) = tokio::time::timeout(self.after, first.as_mut()).await {
            return answer;
        }
        // Waits for a place, or for the first way's answer if it comes sooner.
        let _place = tokio::select! {
            answer = first.as_mut() => return answer,
            place = self.in_flight.acquire() => match place {
                Ok(place) => place,
                // Closed: never (the semaphore is never closed); read the first way.
                Err(_) => return first.await,
            },
        };
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hedge() -> Hedge {
        Hedge::new(Duration::from_millis(10), 4)
    }

    async fn answer(after_ms: u64, answer: Result<u32, &'static str>) -> Result<u32, &'static str> {
        tokio::time::sleep(Duration::from_millis(after_ms)).await;
        answer
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_in_time_is_taken_and_nothing_is_sent_twice() {
        let hedge = hedge();
        let hedged = hedge.run(answer(5, Err("full")), || async {
            panic!("the second way is not started")
        });
        assert_eq!(hedged.await, Err("full"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_read_takes_the_first_success_of_either_way() {
        assert_eq!(
            hedge().run(answer(1000, Ok(1)), || answer(5, Ok(2))).await,
            Ok(2)
        );
        assert_eq!(
            hedge().run(answer(20, Ok(1)), || answer(1000, Ok(2))).await,
            Ok(1)
        );
        assert_eq!(
            hedge()
                .run(answer(1000, Ok(1)), || answer(5, Err("pool")))
                .await,
            Ok(1),
            "a failed second way waits for the first"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn when_both_ways_fail_the_error_is_the_first_ways() {
        assert_eq!(
            hedge()
                .run(answer(20, Err("first")), || answer(30, Err("second")))
                .await,
            Err("first")
        );
        assert_eq!(
            hedge()
                .run(answer(40, Err("first")), || answer(30, Err("second")))
                .await,
            Err("first")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn past_its_places_a_late_read_waits_for_a_place_or_its_first_way() {
        let hedge = Hedge::new(Duration::from_millis(10), 1);
        let started = tokio::time::Instant::now();
        let (one, other, early) = tokio::join!(
            hedge.run(answer(1000, Ok(1)), || answer(50, Ok(2))),
            hedge.run(answer(1000, Ok(3)), || answer(50, Ok(4))),
            hedge.run(answer(30, Ok(5)), || answer(50, Ok(6))),
        );
        assert_eq!(
            (one, other),
            (Ok(2), Ok(4)),
            "both late reads hedged, one at a time"
        );
        assert_eq!(
            early,
            Ok(5),
            "the first way answered before a place was free"
        );
        assert!(
            started.elapsed() < Duration::from_millis(200),
            "one after the other: {:?}",
            started.elapsed()
        );
    }
}
