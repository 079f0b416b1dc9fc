//! The bounded pool of `/api/v1/process`: the CPU work runs on tokio's blocking pool,
//! at most `slots` batches at once (a semaphore; one slot per core), with at most `queue`
//! more requests admitted and waiting for a slot. A request is admitted once its body
//! has been read (a slow sender holds no slot; bodies being read are bounded by the
//! kit's body budget instead). Anything beyond that is refused at once: 503
//! `Overloaded` with `Retry-After: 1`, before its body is read when the pool is already
//! full as the request arrives.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use actix_web::web;
use tokio::sync::Semaphore;

use kit::ApiError;
pub use kit::http::overloaded;

/// How many requests may wait per processing slot: 16, as each Node baseline worker
/// (one per core) queues 16 behind its one running batch, so both shed at the same
/// concurrency and a comparison under load compares like with like.
pub const QUEUE_PER_SLOT: usize = 16;

/// Longest wait for a slot before the request is shed after all (503): the queue is
/// bounded in time as well as in length, so that a client with a 10 s timeout gets an
/// answer even when batches take longer than usual (a loaded machine, a debug build).
pub const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(4);

#[derive(Debug)]
pub struct ProcessPool {
    slots: Arc<Semaphore>,
    /// Requests admitted and not yet finished: computing or waiting for a slot.
    admitted: AtomicUsize,
    /// slots + queue.
    limit: usize,
    /// [`QUEUE_WAIT`] (shorter in tests).
    queue_wait: std::time::Duration,
}

/// One admitted request; leaves the pool when dropped (also when the client goes away).
#[must_use]
pub struct Admission<'p> {
    pool: &'p ProcessPool,
}

impl ProcessPool {
    pub fn new(slots: usize, queue: usize) -> Self {
        ProcessPool::with_queue_wait(slots, queue, QUEUE_WAIT)
    }

    pub fn with_queue_wait(slots: usize, queue: usize, queue_wait: std::time::Duration) -> Self {
        let slots = slots.max(1);
        ProcessPool {
            slots: Arc::new(Semaphore::new(slots)),
            admitted: AtomicUsize::new(0),
            limit: slots + queue,
            queue_wait,
        }
    }

    /// One slot per core, `QUEUE_PER_SLOT` waiting per slot.
    pub fn for_this_machine() -> Self {
        let slots = std::thread::available_parallelism().map_or(1, |cores| cores.get());
        ProcessPool::new(slots, QUEUE_PER_SLOT * slots)
    }

    /// The process-wide pool every worker shares.
    pub fn shared() -> web::Data<ProcessPool> {
        static POOL: OnceLock<web::Data<ProcessPool>> = OnceLock::new();
        POOL.get_or_init(|| web::Data::new(ProcessPool::for_this_machine()))
            .clone()
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
    use std::time::Duration;

    use super::*;

    #[test]
    fn admits_slots_plus_queue_then_refuses() {
        let pool = ProcessPool::new(2, 3);
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
        let pool = Arc::new(ProcessPool::with_queue_wait(1, 1, wait));
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
        let pool = Arc::new(ProcessPool::new(2, 8));
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
