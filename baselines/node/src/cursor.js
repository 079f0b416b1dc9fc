// List cursors: base64url without padding of `<created_at RFC 3339 ms>|<id>` of the last
// item of a page (docs/contract.md). Only cursors this service could have issued decode:
// canonical base64url, a millisecond UTC timestamp that round-trips, a lowercase id.

const B64URL = /^[A-Za-z0-9_-]+$/;
const PLAIN = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z)\|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/**
 * @param {Date} createdAt
 * @param {string} id
 */
export function encodeCursor(createdAt, id) {
  return Buffer.from(`${createdAt.toISOString()}|${id}`, 'latin1').toString('base64url');
}

/**
 * @param {unknown} cursor
 * @returns {{ createdAt: Date, id: string } | null}
 */
export function decodeCursor(cursor) {
  if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 128 || !B64URL.test(cursor)) return null;
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) return null; // padding bits or junk
  const m = PLAIN.exec(bytes.toString('latin1'));
  if (m === null) return null;
  const createdAt = new Date(m[1]);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== m[1]) return null;
  return { createdAt, id: m[2] };
}
