// Natural batching, as the Rust service does it (crates/kit/src/db/coalesce.rs): while
// `inFlight` batches are running, the calls that arrive wait in a queue, and the next
// free slot takes up to `maxBatch` of them as ONE batch. There is no timer: a lone call
// goes out at once (a batch of one), so at low load nothing waits, and under load the
// batches grow by themselves with the queue.
//
// `run(items)` answers a batch: it resolves to one answer per item, in order (an Error
// object as an answer rejects that item's caller only), or rejects, which rejects every
// caller of the batch with the same error.
//
// Deadline: a caller is answered within `deadlineMs` of its call. A batch gets the time
// its oldest item has left (`run(items, ms)`); items whose time ran out while queued are
// rejected with code DB_TIMEOUT (a 503, as a query past its deadline) and not sent.

/**
 * @template T, R
 * @param {{
 *   inFlight: number,
 *   maxBatch: number,
 *   deadlineMs: number,
 *   run: (items: T[], ms: number) => Promise<Array<R | Error>>,
 *   onBatch?: (size: number) => void,
 * }} options
 * @returns {(item: T) => Promise<R>}
 */
export function createCoalescer({ inFlight, maxBatch, deadlineMs, run, onBatch }) {
  /** @type {Array<{ item: T, due: number, resolve: (r: R) => void, reject: (e: unknown) => void }>} */
  let queue = [];
  let running = 0;

  function dispatch() {
    while (running < inFlight && queue.length > 0) {
      const now = performance.now();
      let taken;
      if (queue.length <= maxBatch) {
        taken = queue;
        queue = [];
      } else {
        taken = queue.slice(0, maxBatch);
        queue = queue.slice(maxBatch);
      }
      const live = [];
      for (const call of taken) {
        if (call.due > now) live.push(call);
        else call.reject(timeoutError(deadlineMs));
      }
      if (live.length === 0) continue;
      running += 1;
      if (onBatch !== undefined) onBatch(live.length);
      // FIFO: the first item is the oldest, so it has the least time left.
      let answers;
      try {
        answers = run(live.map((call) => call.item), live[0].due - now);
      } catch (err) {
        answers = Promise.reject(err);
      }
      answers.then(
        (results) => {
          for (let i = 0; i < live.length; i++) {
            const result = results[i];
            if (result instanceof Error) live[i].reject(result);
            else live[i].resolve(result);
          }
          done();
        },
        (err) => {
          for (const call of live) call.reject(err);
          done();
        },
      );
    }
  }

  function done() {
    running -= 1;
    dispatch();
  }

  return function call(item) {
    return new Promise((resolve, reject) => {
      queue.push({ item, due: performance.now() + deadlineMs, resolve, reject });
      if (running < inFlight) dispatch();
    });
  };
}

function timeoutError(ms) {
  const err = new Error(`no database answer within ${ms} ms (queued behind earlier batches)`);
  err.code = 'DB_TIMEOUT';
  return err;
}
