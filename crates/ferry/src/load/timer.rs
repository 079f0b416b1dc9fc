//! A precise sleep for the open model's scheduler.
//!
//! tokio's timer wheel rounds every deadline up to the next millisecond, which would add up to
//! a millisecond of ferry's own making to every corrected latency. On Linux the scheduler
//! sleeps on a timerfd instead: a high-resolution kernel timer whose expiry the event loop
//! sees like any readable socket. The worker thread's timer slack is lowered to 1 µs so the
//! kernel does not batch the wake-up later. Elsewhere, tokio's timer is used.

use std::io;
use std::time::Instant;

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
