// PostgreSQL through postgres.js: named prepared statements (`prepare: true`), and
// pipelining — postgres.js writes a query to an idle connection, else onto a busy one
// (up to `max_pipeline` queries in flight each), so a few connections carry many
// concurrent requests without a checkout step.
//
// Every query has a deadline (QUERY_TIMEOUT_MS): a database that accepts the connection
// but never answers gives 503 `Database unavailable`, never a hang. Connection attempts
// give up after CONNECT_TIMEOUT_SECS. A connection that fails or closes is reopened by
// postgres.js on the next query, so a PostgreSQL restart heals by itself.
import postgres from 'postgres';
import { postgresTarget } from './databaseUrl.js';

export const CONNECT_TIMEOUT_SECS = 3;
export const QUERY_TIMEOUT_MS = 5_000;
export const PING_TIMEOUT_MS = 1_000;

/**
 * @param {{ databaseUrl: string, poolPerWorker: number }} config
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
    fetch_types: false, // no array types are used; saves a round trip per new connection
    onnotice: () => {},
    connection: { application_name: 'user-service-node' },
  });

  const stats = { max, inFlight: 0 };

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

  return {
    sql,
    stats,
    /** @param {string} id */
    getUser: (id) => run(sql`SELECT id, email, created_at, updated_at FROM users WHERE id = ${id}`).then(first),
    /** Inserts unless the id or the email exists; null on conflict. */
    insertUser: (id, email) =>
      run(
        sql`INSERT INTO users (id, email) VALUES (${id}, ${email})
            ON CONFLICT DO NOTHING RETURNING id, email, created_at, updated_at`,
      ).then(first),
    /** The rows that hold this id or this email (case-insensitively). */
    findConflicts: (id, email) =>
      run(sql`SELECT id, email, created_at, updated_at FROM users WHERE id = ${id} OR lower(email) = lower(${email})`),
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
