//! A precise sleep for the open model's scheduler.
//!
//! tokio's timer wheel rounds every deadline up to the next millisecond, which would add up to
//! a millisecond of ferry's own making to every corrected latency. On Linux the scheduler
//! sleeps on a timerfd instead: a high-resolution kernel timer whose expiry the event loop
//! sees like any readable socket. The worker thread's timer slack is lowered to 1 µs so the
//! kernel does not batch the wake-up later. Elsewhere, tokio's timer is used.
//!
//! Also here: [`Deadlines`], the per-request timeouts, swept periodically instead of one
//! tokio timer per request.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
mod platform {
    use std::io;
    use std::os::fd::{AsFd, AsRawFd, RawFd};
    use std::time::Instant;

    use nix::errno::Errno;
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    use tokio::io::Interest;
    use tokio::io::unix::AsyncFd;

    /// tokio's `AsyncFd` wants `AsRawFd`; nix's `TimerFd` offers `AsFd`.
    struct RawTimer(TimerFd);

    impl AsRawFd for RawTimer {
        fn as_raw_fd(&self) -> RawFd {
            self.0.as_fd().as_raw_fd()
        }
    }

    pub struct PreciseTimer {
        timer: AsyncFd<RawTimer>,
    }

    impl PreciseTimer {
        pub fn new() -> io::Result<PreciseTimer> {
            // Best effort: without it the wake-up may come up to 50 µs late, which is still
            // far better than the timer wheel.
            let _ = nix::sys::prctl::set_timerslack(1_000);
            let timer = TimerFd::new(
                ClockId::CLOCK_MONOTONIC,
                TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
            )?;
            // SAFETY: `RawTimer` owns the timerfd (an `OwnedFd` inside `TimerFd`) and never
            // replaces it, so the descriptor stays open and the same for the `AsyncFd`'s life.
            let timer =
                unsafe { AsyncFd::register_with_interest(RawTimer(timer), Interest::READABLE) }
                    .map_err(io::Error::from)?;
            Ok(PreciseTimer { timer })
        }

        pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
            loop {
                let now = Instant::now();
                if deadline <= now {
                    return Ok(());
                }
                // Relative, because std's Instant does not expose its clock reading; the few
                // nanoseconds between `now` and arming the timer are negligible.
                self.timer.get_ref().0.set(
                    Expiration::OneShot(TimeSpec::from_duration(deadline - now)),
                    TimerSetTimeFlags::empty(),
                )?;
                let mut ready = self.timer.readable().await?;
                // Reading consumes the expiry; an early or stale wake-up loops and re-arms.
                match ready.get_inner().0.wait() {
                    Ok(()) | Err(Errno::EAGAIN) => ready.clear_ready(),
                    Err(error) => return Err(error.into()),
                }
            }
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod platform {
    use std::io;
    use std::time::Instant;

    pub struct PreciseTimer;

    impl PreciseTimer {
        pub fn new() -> io::Result<PreciseTimer> {
            Ok(PreciseTimer)
        }

        pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
            tokio::time::sleep_until(deadline.into()).await;
            Ok(())
        }
    }
}

/// Sleeps until an instant with sub-millisecond precision where the platform allows.
pub struct PreciseTimer(platform::PreciseTimer);

impl PreciseTimer {
    /// A timer for the calling worker's event loop (must be called inside it).
    pub fn new() -> io::Result<PreciseTimer> {
        platform::PreciseTimer::new().map(PreciseTimer)
    }

    pub async fn sleep_until(&self, deadline: Instant) -> io::Result<()> {
        self.0.sleep_until(deadline).await
    }
}

/// Per-request timeouts without a timer per request: every sending slot of a worker has an
/// entry holding its request's deadline, and one periodic sweep per worker expires the
/// entries whose deadline has passed, waking their tasks. Arming and disarming an entry is a
/// store; the sweep runs every `granularity`, so a timeout is detected at most that late.
pub struct Deadlines {
    entries: Box<[DeadlineEntry]>,
    granularity: Duration,
}

#[derive(Default)]
struct DeadlineEntry {
    deadline: Cell<Option<Instant>>,
    expired: Cell<bool>,
    /// The slot's task; it stays the same from request to request, so it is kept.
    waker: Cell<Option<Waker>>,
}

impl Deadlines {
    /// Entries for `slots` sending slots, with timeouts of `timeout`.
    pub fn new(slots: usize, timeout: Duration) -> Deadlines {
        Deadlines {
            entries: (0..slots).map(|_| DeadlineEntry::default()).collect(),
            granularity: (timeout / 20).clamp(Duration::from_millis(1), Duration::from_millis(50)),
        }
    }

    /// Runs `work` for slot `slot` until it completes (`Some`) or `deadline` passes (`None`;
    /// `work` is then dropped).
    pub async fn within<F: Future>(
        &self,
        slot: usize,
        deadline: Instant,
        work: F,
    ) -> Option<F::Output> {
        let entry = &self.entries[slot];
        entry.deadline.set(Some(deadline));
        entry.expired.set(false);
        let _disarm = Disarm(entry);
        let mut work = pin!(work);
        std::future::poll_fn(|context| {
            if let Poll::Ready(output) = work.as_mut().poll(context) {
                return Poll::Ready(Some(output));
            }
            if entry.expired.get() {
                return Poll::Ready(None);
            }
            let waker = match entry.waker.take() {
                Some(waker) if waker.will_wake(context.waker()) => waker,
                _ => context.waker().clone(),
            };
            entry.waker.set(Some(waker));
            Poll::Pending
        })
        .await
    }

    /// Expires every entry whose deadline is at or before `now`.
    pub fn sweep(&self, now: Instant) {
        for entry in &self.entries {
            if entry.deadline.get().is_some_and(|deadline| deadline <= now) {
                entry.deadline.set(None);
                entry.expired.set(true);
                if let Some(waker) = entry.waker.take() {
                    waker.wake_by_ref();
                    entry.waker.set(Some(waker));
                }
            }
        }
    }

    /// Sweeps forever, every `granularity`; run it as a task of the worker's event loop.
    pub async fn run_sweeps(&self) {
        let mut interval = tokio::time::interval(self.granularity);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            self.sweep(Instant::now());
        }
    }
}

/// Disarms an entry when its request ends, however it ends.
struct Disarm<'a>(&'a DeadlineEntry);

impl Drop for Disarm<'_> {
    fn drop(&mut self) {
        self.0.deadline.set(None);
        self.0.expired.set(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_past_its_deadline_is_given_up_and_others_are_not() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let deadlines = std::rc::Rc::new(Deadlines::new(2, Duration::from_millis(100)));
            let sweeper = deadlines.clone();
            let sweeps = tokio::task::spawn_local(async move { sweeper.run_sweeps().await });
            let start = Instant::now();
            let deadline = start + Duration::from_millis(100);
            let quick = deadlines.within(1, deadline, async { 7 });
            assert_eq!(quick.await, Some(7));
            let hung = deadlines.within(0, deadline, std::future::pending::<()>());
            assert_eq!(hung.await, None);
            let waited = start.elapsed();
            assert!(waited >= Duration::from_millis(100), "{waited:?}");
            assert!(waited < Duration::from_millis(400), "{waited:?}");
            sweeps.abort();
        });
    }
}
