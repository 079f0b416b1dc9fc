// Error bodies and the mapping of failures to HTTP (docs/contract.md): every 4xx/5xx is
// `{"error": msg, "request_id": id}` (+ `fields` on 422, `checks` on readiness 503) with
// `Content-Type: application/json; charset=utf-8`. A 5xx never carries driver text.

export const JSON_TYPE = 'application/json; charset=utf-8';

export const MSG = Object.freeze({
  notFound: 'Not found',
  methodNotAllowed: 'Method not allowed',
  missingToken: 'Missing bearer token',
  invalidToken: 'Invalid token',
  invalidUserId: 'Invalid user id',
  invalidLimit: 'Invalid limit',
  invalidCursor: 'Invalid cursor',
  unsupportedMediaType: 'Content-Type must be application/json',
  payloadTooLarge: 'Payload too large',
  invalidJson: 'Invalid JSON body',
  notAnObject: 'Body must be a JSON object',
  validation: 'Validation failed',
  userNotFound: 'User not found',
  emailTaken: 'Email already taken',
  idExists: 'User id exists with another email',
  recordsRequired: 'Body must have a non-empty records array',
  tooManyRecords: 'Too many records',
  overloaded: 'Overloaded',
  dbUnavailable: 'Database unavailable',
  draining: 'Draining',
  headersTooLarge: 'Request header fields too large',
  requestTimeout: 'Request timeout',
  badRequest: 'Bad request',
  internal: 'Internal server error',
});

/** A failure with a status and a message that are safe to show. */
export class HttpError extends Error {
  /**
   * @param {number} status
   * @param {string} message
   * @param {Record<string, unknown>} [extra] members after error and request_id
   * @param {Record<string, string>} [headers]
   */
  constructor(status, message, extra, headers) {
    super(message);
    this.statusCode = status;
    this.extra = extra;
    this.headers = headers;
  }
}

export function errorBody(requestId, message, extra) {
  const body = { error: message, request_id: requestId };
  return JSON.stringify(extra === undefined ? body : Object.assign(body, extra));
}

/**
 * Sends the error body. Returns the reply (so async hooks can `return sendError(...)`).
 * @param {import('fastify').FastifyReply} reply
 */
export function sendError(reply, status, message, extra, headers) {
  reply.code(status);
  if (headers !== undefined) reply.headers(headers);
  reply.header('content-type', JSON_TYPE);
  return reply.send(errorBody(reply.request.id, message, extra));
}

// Errors that mean "the database does not answer" rather than "the query is wrong".
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND',
  'EAI_AGAIN', 'EPIPE', 'ENOENT',
  // postgres.js
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED',
  // ours (db.js): the query did not settle within the deadline
  'DB_TIMEOUT',
  // SQLSTATE: too_many_connections, admin/crash shutdown, cannot_connect_now, and
  // query_canceled (a statement timeout): the same table as the Rust service's
  // crates/kit/src/db/unavailable.rs
  '53300', '57P01', '57P02', '57P03', '57014',
]);

export function isDatabaseUnavailable(err) {
  if (err == null) return false;
  const code = err.code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  if (Array.isArray(err.errors)) return err.errors.some(isDatabaseUnavailable); // AggregateError
  return false;
}

export function isUniqueViolation(err) {
  return err != null && err.code === '23505';
}
