// The statements of coalesced point reads and creates (src/coalesce.js gathers the
// batches), and how each request of a batch gets its own answer. The same design as the
// Rust service (crates/user-service/src/store/creates.rs, crates/kit/src/db/point_reads.rs):
//
// - Reads: a batch of one is the single-key statement, so at low load a read is exactly
//   the uncoalesced read; more go out as `WHERE id = ANY($1::uuid[])`, and each id gets
//   its row or null (a 404), duplicates included.
// - Creates: `INSERT ... SELECT FROM unnest($1::uuid[], $2::text[]) ON CONFLICT DO
//   NOTHING RETURNING`: one statement and one commit for the batch. A row that came back
//   with the request's own id and email is that request's 201 (the first of exact
//   duplicates claims it). Every other request of the batch goes the way a lone create
//   goes (createOne: insert, then look up the id and the email), which answers 200 for an
//   idempotent retry, 409 for a taken id or email, or inserts a row that a concurrent
//   DELETE freed. Rows insert in the batch's order, so of two requests for one email
//   exactly one wins, as if they had run one after the other.
// - A batched statement that fails for a reason other than the database's
//   unavailability (data that breaks the statement) falls back to one statement per
//   request, so only the request at fault fails; when the database is unavailable every
//   request of the batch gets that error (a 503 each).
//
// postgres.js sends a JavaScript array as its text joined by commas unless it knows the
// array type (fetch_types is off: db.js), so the arrays are sent as PostgreSQL array
// literals and cast in the statement. Ids are validated hyphenated UUIDs; emails are
// quoted and escaped.
import { isDatabaseUnavailable } from './errors.js';

/**
 * @typedef {{ id: string, email: string, created_at: Date, updated_at: Date }} UserRow
 * @typedef {{ kind: 'created' | 'existed', row: UserRow } | { kind: 'idTaken' | 'emailTaken' }} CreateOutcome
 */

/** `{a,b}` of hyphenated UUIDs (nothing in them needs quoting). */
const uuidArray = (ids) => `{${ids.join(',')}}`;

const QUOTED = /["\\]/g;
/** `{"a","b"}`: every element quoted, `"` and `\` escaped. */
const textArray = (values) => `{${values.map((v) => `"${v.replace(QUOTED, '\\$&')}"`).join(',')}}`;

/** Rejections as answers, so that one request's failure is that request's only. */
const asAnswer = (err) => (err instanceof Error ? err : new Error(String(err)));

/**
 * @param {import('postgres').Sql} sql
 * @param {(query: any, ms?: number) => Promise<any>} run  db.js's query with a deadline
 */
export function createBatches(sql, run) {
  /** @returns {Promise<CreateOutcome>} */
  async function createOne({ id, email }, ms) {
    // INSERT ... ON CONFLICT DO NOTHING, then find out which conflict it was. A row that
    // vanishes in between (a concurrent DELETE) means trying again.
    for (let attempt = 0; attempt < 3; attempt++) {
      const inserted = await run(
        sql`INSERT INTO users (id, email) VALUES (${id}, ${email})
            ON CONFLICT DO NOTHING RETURNING id, email, created_at, updated_at`,
        ms,
      );
      if (inserted.length > 0) return { kind: 'created', row: inserted[0] };
      const rows = await run(
        sql`SELECT id, email, created_at, updated_at FROM users WHERE id = ${id} OR lower(email) = lower(${email})`,
        ms,
      );
      const sameId = rows.find((r) => r.id === id);
      if (sameId !== undefined) {
        return sameId.email.toLowerCase() === email.toLowerCase() ? { kind: 'existed', row: sameId } : { kind: 'idTaken' };
      }
      if (rows.length > 0) return { kind: 'emailTaken' };
    }
    throw new Error('insert kept conflicting with rows that then disappeared');
  }

  /**
   * One answer per create, in order.
   * @param {Array<{ id: string, email: string }>} creates
   * @returns {Promise<Array<CreateOutcome | Error>>}
   */
  async function createMany(creates, ms) {
    if (creates.length === 1) return [await createOne(creates[0], ms)];
    const due = performance.now() + ms;
    const left = () => Math.max(1, due - performance.now());
    let inserted;
    try {
      inserted = await run(
        sql`INSERT INTO users (id, email)
            SELECT * FROM unnest(${uuidArray(creates.map((c) => c.id))}::uuid[], ${textArray(creates.map((c) => c.email))}::text[])
            ON CONFLICT DO NOTHING RETURNING id, email, created_at, updated_at`,
        ms,
      );
    } catch (err) {
      if (isDatabaseUnavailable(err)) throw err;
      return Promise.all(creates.map((c) => createOne(c, left()).catch(asAnswer)));
    }
    const byId = new Map();
    for (const row of inserted) byId.set(row.id, row);
    return Promise.all(
      creates.map((c) => {
        const row = byId.get(c.id);
        if (row !== undefined && row.email === c.email) {
          byId.delete(c.id); // claimed: a later exact duplicate is a retry (200)
          return { kind: 'created', row };
        }
        return createOne(c, left()).catch(asAnswer);
      }),
    );
  }

  /**
   * The row of each id (lowercase), or null, in order.
   * @param {string[]} ids
   * @returns {Promise<Array<UserRow | null>>}
   */
  async function getMany(ids, ms) {
    if (ids.length === 1) {
      const rows = await run(sql`SELECT id, email, created_at, updated_at FROM users WHERE id = ${ids[0]}`, ms);
      return [rows.length === 0 ? null : rows[0]];
    }
    const rows = await run(
      sql`SELECT id, email, created_at, updated_at FROM users WHERE id = ANY(${uuidArray(ids)}::uuid[])`,
      ms,
    );
    const byId = new Map();
    for (const row of rows) byId.set(row.id, row);
    return ids.map((id) => byId.get(id) ?? null);
  }

  return { createOne, createMany, getMany };
}
