// PostgreSQL through postgres.js: named prepared statements (`prepare: true`), and
// pipelining — postgres.js writes a query to an idle connection, else onto a busy one
// (up to `max_pipeline` queries in flight each), so a few connections carry many
// concurrent requests without a checkout step.
//
// Every query has a deadline (QUERY_TIMEOUT_MS): a database that accepts the connection
// but never answers gives 503 `Database unavailable`, never a hang. Connection attempts
// give up after CONNECT_TIMEOUT_SECS. A connection that fails or closes is reopened by
// postgres.js on the next query, so a PostgreSQL restart heals by itself.
//
// With `config.coalesce` (DB_COALESCE, on by default) point reads and creates are
// batched (src/coalesce.js, src/batches.js): concurrent requests share one statement,
// and each still gets its own answer.
import postgres from 'postgres';
import { createBatches } from './batches.js';
import { createCoalescer } from './coalesce.js';
import { postgresTarget } from './databaseUrl.js';

export const CONNECT_TIMEOUT_SECS = 3;
export const QUERY_TIMEOUT_MS = 5_000;
export const PING_TIMEOUT_MS = 1_000;
/** Batches in flight per connection: one executing, one on the wire (as the Rust service). */
export const BATCHES_PER_CONNECTION = 2;
/** Keys or rows in one batched statement. */
export const MAX_BATCH = 256;

/**
 * Seconds before the next connection attempt after `retries` failed ones: 50 ms, doubling,
 * at most 1 s. postgres.js's default grows as 3^retries / 100 up to 20 s, and its count is
 * shared by the client's connections: after a PostgreSQL restart one connection per worker
 * that had failed a dozen times stayed away for up to 20 s after the database was back,
 * every request a 503 meanwhile (test/faults.test.js). One attempt a second per connection
 * is no load on a database that is coming back.
 */
export const reconnectDelaySecs = (retries) => Math.min(0.05 * 2 ** Math.max(0, retries - 1), 1);

/**
 * @param {{ databaseUrl: string, poolPerWorker: number, coalesce?: boolean }} config
 */
export function createDb(config, { log } = {}) {
  const max = config.poolPerWorker;
  const target = postgresTarget(config.databaseUrl);
  const sql = postgres(target.url, {
    ...target.options,
    max,
    prepare: true,
    connect_timeout: CONNECT_TIMEOUT_SECS,
    idle_timeout: 0,
    backoff: reconnectDelaySecs,
    fetch_types: false, // arrays go as literals (batches.js); saves a round trip per new connection
    onnotice: () => {},
    connection: { application_name: 'user-service-node' },
  });

  // batches: per coalesced statement, how many went out and how many requests they carried.
  const stats = {
    max,
    inFlight: 0,
    batches: { get_user: { batches: 0, items: 0 }, create_user: { batches: 0, items: 0 } },
  };
  const counter = (name) => (size) => {
    stats.batches[name].batches += 1;
    stats.batches[name].items += size;
  };

  /**
   * Runs a postgres.js query with a deadline; counts it for the pool gauges.
   * @template T
   * @param {import('postgres').PendingQuery<any>} query
   * @param {number} [ms]
   * @returns {Promise<T>}
   */
  function run(query, ms = QUERY_TIMEOUT_MS) {
    stats.inFlight += 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        query.cancel();
        const err = new Error(`query did not settle within ${ms} ms`);
        err.code = 'DB_TIMEOUT';
        reject(err);
      }, ms);
      query.then(
        (rows) => {
          clearTimeout(timer);
          stats.inFlight -= 1;
          resolve(rows);
        },
        (err) => {
          clearTimeout(timer);
          stats.inFlight -= 1;
          reject(err);
        },
      );
    });
  }

  const first = (rows) => (rows.length === 0 ? null : rows[0]);
  const batches = createBatches(sql, run);
  const limits = { inFlight: BATCHES_PER_CONNECTION * max, maxBatch: MAX_BATCH, deadlineMs: QUERY_TIMEOUT_MS };
  const coalesce = config.coalesce === true;
  const readCoalesced = coalesce
    ? createCoalescer({ ...limits, run: batches.getMany, onBatch: counter('get_user') })
    : null;
  const createCoalesced = coalesce
    ? createCoalescer({ ...limits, run: batches.createMany, onBatch: counter('create_user') })
    : null;

  return {
    sql,
    stats,
    coalesce,
    /**
     * The user with this id (hyphenated, either case), or null.
     * @param {string} id
     */
    getUser: readCoalesced === null
      ? (id) => run(sql`SELECT id, email, created_at, updated_at FROM users WHERE id = ${id}`).then(first)
      : (id) => readCoalesced(id.toLowerCase()),
    /**
     * Creates the user unless the id or the email exists (id lowercase, email validated).
     * @returns {Promise<import('./batches.js').CreateOutcome>}
     */
    createUser: createCoalesced === null
      ? (id, email) => batches.createOne({ id, email }, QUERY_TIMEOUT_MS)
      : (id, email) => createCoalesced({ id, email }),
    /** Newest first; `limit` rows. */
    listFirst: (limit) =>
      run(sql`SELECT id, email, created_at, updated_at FROM users ORDER BY created_at DESC, id DESC LIMIT ${limit}`),
    /** Newest first, strictly after the cursor position. */
    listAfter: (createdAt, id, limit) =>
      run(
        sql`SELECT id, email, created_at, updated_at FROM users
            WHERE (created_at, id) < (${createdAt}, ${id}::uuid)
            ORDER BY created_at DESC, id DESC LIMIT ${limit}`,
      ),
    updateEmail: (id, email) =>
      run(
        sql`UPDATE users SET email = ${email}, updated_at = date_trunc('milliseconds', clock_timestamp())
            WHERE id = ${id} RETURNING id, email, created_at, updated_at`,
      ).then(first),
    /** @returns {Promise<boolean>} whether a row was deleted */
    deleteUser: (id) => run(sql`DELETE FROM users WHERE id = ${id}`).then((r) => r.count > 0),
    /** `SELECT 1` within PING_TIMEOUT_MS. */
    ping: () => run(sql`SELECT 1`, PING_TIMEOUT_MS).then(() => true, () => false),
    /** Closes connections, letting queries in flight finish (at most `timeoutSecs`). */
    close: (timeoutSecs = 5) => sql.end({ timeout: timeoutSecs }),
  };
}
