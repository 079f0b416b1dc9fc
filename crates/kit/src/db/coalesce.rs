//! Natural batching: concurrent calls that queue up while earlier batches are in flight
//! share one database statement.
//!
//! Why: past one statement per request, the limit of a point read or a create is a cost
//! per statement inside PostgreSQL (parse, plan, executor start, and for a write one
//! commit and its WAL flush). Sixty-four reads in one `= ANY($1)` or sixty-four inserts
//! in one `unnest` pay that cost once.
//!
//! How: one dispatcher task per kind of call takes the queued calls as a batch whenever
//! one of its `in_flight` slots is free, runs the batch on its own task, and answers each
//! call with its own output. Nothing waits on a timer: a lone call goes at once as a
//! batch of one, and batches grow only while the slots are busy, that is under load.
//!
//! A caller that gives up (a deadline, a client that disconnects) only drops its
//! receiver: a call taken into the queue is always run, with its batch, and the others
//! in the batch are answered as if it were still waiting. So a cancelled write is
//! committed when its batch commits.
//!
//! Bounded: at most `queue_depth` calls wait; past it [`Rejected::QueueFull`] at once.
//!
//! Metric: `db_batch_size{batch}`, a histogram of the calls per batch.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

/// How a coalescer batches.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Batches running at once. Two keeps the server busy (one executes while the next
    /// is on the wire) and lets the calls arriving meanwhile gather into the next.
    pub in_flight: usize,
    /// Most calls in one batch (one statement's array parameters).
    pub max_batch: usize,
    /// Most calls waiting for a slot.
    pub queue_depth: usize,
}

/// Why a call was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("{0} calls are already waiting for a batch")]
    QueueFull(usize),
    /// The dispatcher is gone (the runtime is shutting down) or a batch ended without
    /// answering this call.
    #[error("the batch ended without an answer")]
    NoAnswer,
}

struct Pending<I, O> {
    input: I,
    reply: oneshot::Sender<O>,
}

/// The entry point of one kind of batched call: inputs `I`, one output `O` each.
pub struct Coalescer<I, O> {
    queue: mpsc::Sender<Pending<I, O>>,
    queue_depth: usize,
}

impl<I: Send + 'static, O: Send + 'static> Coalescer<I, O> {
    /// Starts the dispatcher on the current runtime. `run` gets a batch of inputs and
    /// returns exactly one output per input, in the same order; it must answer every
    /// input even when the statement fails (each its own error).
    pub fn start<F, Fut>(batch: &'static str, limits: BatchLimits, run: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + 'static,
        Fut: Future<Output = Vec<O>> + Send + 'static,
    {
        let queue_depth = limits.queue_depth.max(1);
        let (queue, waiting) = mpsc::channel(queue_depth);
        let _ = crate::metrics::handle();
        let sizes = metrics::histogram!("db_batch_size", "batch" => batch);
        tokio::spawn(dispatch(limits, waiting, run, sizes));
        Coalescer { queue, queue_depth }
    }

    /// Queues `input` for the next batch and waits for its output.
    pub async fn call(&self, input: I) -> Result<O, Rejected> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Pending { input, reply })
            .map_err(|error| match error {
                mpsc::error::TrySendError::Full(_) => Rejected::QueueFull(self.queue_depth),
                mpsc::error::TrySendError::Closed(_) => Rejected::NoAnswer,
            })?;
        answer.await.map_err(|_| Rejected::NoAnswer)
    }
}

async fn dispatch<I, O, F, Fut>(
    limits: BatchLimits,
    mut waiting: mpsc::Receiver<Pending<I, O>>,
    run: F,
    sizes: metrics::Histogram,
) where
    I: Send + 'static,
    O: Send + 'static,
    F: Fn(Vec<I>) -> Fut,
    Fut: Future<Output = Vec<O>> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.in_flight.max(1)));
    let max_batch = limits.max_batch.max(1);
    loop {
        // Take a slot first: while none is free the calls gather in the queue.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Some(first) = waiting.recv().await else {
            return;
        };
        let mut inputs = Vec::with_capacity(waiting.len().min(max_batch - 1) + 1);
        let mut replies = Vec::with_capacity(inputs.capacity());
        let mut next = Some(first);
        while let Some(Pending { input, reply }) = next {
            inputs.push(input);
            replies.push(reply);
            next = if inputs.len() < max_batch {
                waiting.try_recv().ok()
            } else {
                None
            };
        }
        sizes.record(inputs.len() as f64);
        let batch = run(inputs);
        tokio::spawn(async move {
            let outputs = batch.await;
            for (reply, output) in replies.into_iter().zip(outputs) {
                // A caller that gave up has dropped its receiver; the others still hear.
                let _ = reply.send(output);
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::sync::Mutex;
    use std::time::Duration;

    type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

    /// A runner that doubles each input. Each batch is recorded in `taken` when it is
    /// taken and in `done` when it ends, and is held until `release` has a permit, so a
    /// test controls what is in flight.
    fn doubling(
        release: Arc<Semaphore>,
        taken: Batches,
        done: Batches,
    ) -> impl Fn(Vec<u32>) -> Pin<Box<dyn Future<Output = Vec<u32>> + Send>> {
        move |inputs| {
            let (release, done) = (release.clone(), done.clone());
            lock(&taken).push(inputs.clone());
            Box::pin(async move {
                let permit = release.acquire().await;
                permit.expect("the tests never close it").forget();
                lock(&done).push(inputs.clone());
                inputs.into_iter().map(|input| input * 2).collect()
            })
        }
    }

    fn lock(batches: &Batches) -> std::sync::MutexGuard<'_, Vec<Vec<u32>>> {
        batches.lock().expect("no test panics while holding it")
    }

    fn started(queue_depth: usize) -> (Arc<Coalescer<u32, u32>>, Arc<Semaphore>, Batches, Batches) {
        let release = Arc::new(Semaphore::new(0));
        let (taken, done) = (Batches::default(), Batches::default());
        let limits = BatchLimits {
            in_flight: 1,
            max_batch: 100,
            queue_depth,
        };
        let coalescer = Coalescer::start(
            "test",
            limits,
            doubling(release.clone(), taken.clone(), done.clone()),
        );
        (Arc::new(coalescer), release, taken, done)
    }

    fn spawn_call(
        coalescer: &Arc<Coalescer<u32, u32>>,
        input: u32,
    ) -> tokio::task::JoinHandle<Result<u32, Rejected>> {
        let coalescer = coalescer.clone();
        tokio::spawn(async move { coalescer.call(input).await })
    }

    async fn until(what: impl Fn() -> bool) {
        while !what() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test]
    async fn a_lone_call_goes_at_once_and_calls_queued_behind_it_share_one_batch() {
        let (coalescer, release, taken, _) = started(100);
        let first = spawn_call(&coalescer, 1);
        // Taken at once as a batch of one, then held in flight.
        until(|| !lock(&taken).is_empty()).await;
        let queued: Vec<_> = (2..=10)
            .map(|input| spawn_call(&coalescer, input))
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        release.add_permits(2);
        assert_eq!(first.await.expect("joins"), Ok(2));
        for (input, call) in (2..=10).zip(queued) {
            assert_eq!(call.await.expect("joins"), Ok(input * 2));
        }
        assert_eq!(*lock(&taken), vec![vec![1], (2..=10).collect()]);
    }

    #[tokio::test]
    async fn a_caller_that_gives_up_leaves_its_batch_to_run_and_the_others_answered() {
        let (coalescer, release, taken, done) = started(100);
        let holder = spawn_call(&coalescer, 1);
        until(|| !lock(&taken).is_empty()).await;
        let stays = spawn_call(&coalescer, 2);
        let gives_up = tokio::time::timeout(Duration::from_millis(20), coalescer.call(3)).await;
        assert!(gives_up.is_err(), "its batch is not released yet");
        release.add_permits(2);
        assert_eq!(holder.await.expect("joins"), Ok(2));
        assert_eq!(stays.await.expect("joins"), Ok(4));
        until(|| lock(&done).len() == 2).await;
        let mut second = lock(&done)[1].clone();
        second.sort_unstable();
        assert_eq!(second, vec![2, 3], "the given-up call ran with its batch");
        release.add_permits(1);
        assert_eq!(coalescer.call(4).await, Ok(8));
    }

    #[tokio::test]
    async fn past_the_queue_depth_a_call_is_refused_at_once() {
        let (coalescer, release, taken, _) = started(2);
        let holder = spawn_call(&coalescer, 0);
        until(|| !lock(&taken).is_empty()).await;
        let queued = [spawn_call(&coalescer, 1), spawn_call(&coalescer, 2)];
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert_eq!(coalescer.call(9).await, Err(Rejected::QueueFull(2)));
        release.add_permits(2);
        assert!(holder.await.expect("joins").is_ok());
        for call in queued {
            assert!(call.await.expect("joins").is_ok());
        }
    }
}
