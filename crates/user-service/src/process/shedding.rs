//! The bounded pool of `/api/v1/process`: the CPU work runs on tokio's blocking pool,
//! at most `slots` batches at once (a semaphore; one slot per core), with at most `queue`
//! more requests admitted and waiting for a slot. A request is admitted once its body
//! has been read (a slow sender holds no slot; bodies being read are bounded by the
//! kit's body budget instead). Anything beyond that is refused at once: 503
//! `Overloaded` with `Retry-After: 1`, before its body is read when the pool is already
//! full as the request arrives.
//!
//! Settings (`[process]`, `APP_PROCESS__*`): `slots` (0: one per core), `queue_per_slot`
//! (16), `queue_wait_ms` (4000). The pool is app state, built once at start-up from them
//! (`startup.rs`) and shared by that app's workers only: two apps in one process (tests)
//! each have their own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use kit::ApiError;
pub use kit::http::overloaded;

/// `[process]` settings.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessSettings {
    /// Batches computed at once; 0: one per core.
    pub slots: usize,
    /// How many requests may wait per slot. 16 by default, as each Node baseline worker
    /// (one per core) queues 16 behind its one running batch, so both shed at the same
    /// concurrency and a comparison under load compares like with like.
    pub queue_per_slot: usize,
    /// Longest wait for a slot before the request is shed after all (503): the queue is
    /// bounded in time as well as in length, so that a client with a 10 s timeout gets
    /// an answer even when batches take longer than usual (a loaded machine, a debug
    /// build).
    pub queue_wait_ms: u64,
}

impl Default for ProcessSettings {
    fn default() -> Self {
        ProcessSettings {
            slots: 0,
            queue_per_slot: 16,
            queue_wait_ms: 4000,
        }
    }
}

impl ProcessSettings {
    /// `slots`, with 0 resolved to this machine's cores.
    pub fn effective_slots(&self) -> usize {
        match self.slots {
            0 => std::thread::available_parallelism().map_or(1, |cores| cores.get()),
            slots => slots,
        }
    }
}

#[derive(Debug)]
pub struct ProcessPool {
    slots: Arc<Semaphore>,
    /// Requests admitted and not yet finished: computing or waiting for a slot.
    admitted: AtomicUsize,
    /// slots + queue.
    limit: usize,
    /// `queue_wait_ms`.
    queue_wait: Duration,
}

/// One admitted request; leaves the pool when dropped (also when the client goes away).
#[must_use]
pub struct Admission<'p> {
    pool: &'p ProcessPool,
}

impl ProcessPool {
    /// The pool the settings describe: `slots` slots, `queue_per_slot` waiting per slot.
    pub fn from_settings(settings: &ProcessSettings) -> Self {
        let slots = settings.effective_slots();
        ProcessPool::new(
            slots,
            settings.queue_per_slot.saturating_mul(slots),
            Duration::from_millis(settings.queue_wait_ms),
        )
    }

    pub fn new(slots: usize, queue: usize, queue_wait: Duration) -> Self {
        let slots = slots.max(1);
        ProcessPool {
            slots: Arc::new(Semaphore::new(slots)),
            admitted: AtomicUsize::new(0),
            limit: slots + queue,
            queue_wait,
        }
    }

    /// Admits a request, or `None` when slots and queue are full.
    pub fn try_admit(&self) -> Option<Admission<'_>> {
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |admitted| {
                (admitted < self.limit).then_some(admitted + 1)
            })
            .ok()
            .map(|_| Admission { pool: self })
    }

    /// Whether a request arriving now would be refused.
    pub fn is_full(&self) -> bool {
        self.admitted() >= self.limit
    }

    /// Requests admitted now.
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Acquire)
    }
}

impl Admission<'_> {
    /// Waits for a slot (at most the queue wait, else the 503), then runs `work` on the
    /// blocking pool. The slot is held by the blocking task, so it stays taken until
    /// the work ends even if the client leaves.
    pub async fn run<T, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = tokio::time::timeout(
            self.pool.queue_wait,
            Arc::clone(&self.pool.slots).acquire_owned(),
        )
        .await
        .map_err(|_| overloaded())?
        .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        })
        .await
        .map_err(ApiError::internal)
    }
}

impl Drop for Admission<'_> {
    fn drop(&mut self) {
        self.pool.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    const WAIT: Duration = Duration::from_secs(4);

    #[test]
    fn the_settings_size_the_pool() {
        let settings = ProcessSettings {
            slots: 2,
            queue_per_slot: 3,
            queue_wait_ms: 10,
        };
        let pool = ProcessPool::from_settings(&settings);
        assert_eq!(pool.limit, 2 + 2 * 3);
        assert_eq!(pool.slots.available_permits(), 2);
        assert_eq!(pool.queue_wait, Duration::from_millis(10));
        let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        let per_core = ProcessPool::from_settings(&ProcessSettings::default());
        assert_eq!(per_core.slots.available_permits(), cores);
        assert_eq!(per_core.limit, cores + 16 * cores);
    }

    #[test]
    fn admits_slots_plus_queue_then_refuses() {
        let pool = ProcessPool::new(2, 3, WAIT);
        let admitted: Vec<_> = (0..5).map(|_| pool.try_admit().expect("room")).collect();
        assert!(pool.try_admit().is_none());
        assert_eq!(pool.admitted(), 5);
        drop(admitted);
        assert_eq!(pool.admitted(), 0);
        assert!(pool.try_admit().is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_that_waits_past_the_queue_wait_is_shed() {
        let wait = Duration::from_millis(200);
        let pool = Arc::new(ProcessPool::new(1, 1, wait));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let holder = {
            let pool = pool.clone();
            tokio::spawn(async move {
                let admission = pool.try_admit().expect("room for the first");
                admission.run(move || held.recv()).await
            })
        };
        // Let the holder take the slot.
        while pool.slots.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        let waiting = pool.try_admit().expect("room in the queue");
        let started = std::time::Instant::now();
        let outcome = waiting.run(|| ()).await;
        assert!(
            matches!(
                outcome,
                Err(ApiError::Unavailable {
                    message: "Overloaded",
                    ..
                })
            ),
            "shed after the queue wait: {outcome:?}"
        );
        assert!(started.elapsed() >= wait);
        release.send(()).expect("the holder waits");
        holder
            .await
            .expect("the holder task")
            .expect("the held work ran")
            .ok();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn runs_at_most_slots_batches_at_once() {
        let pool = Arc::new(ProcessPool::new(2, 8, WAIT));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    let admission = pool.try_admit().expect("room for 10");
                    admission
                        .run(move || {
                            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            running.fetch_sub(1, Ordering::SeqCst);
                        })
                        .await
                        .unwrap();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(pool.admitted(), 0);
    }
}
