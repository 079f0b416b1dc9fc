// JSON request bodies, in the contract's check order: 415 for a content type other than
// application/json (parameters allowed), 413 over the route's body limit (fastify's
// bodyLimit, checked against Content-Length first), 400 `Invalid JSON body`, 400 `Body
// must be a JSON object`. The 422 field checks are the handlers' business.
//
// Slow and heavy bodies (the Rust service's kit::http::json and body_budget do the same):
//   deadline  the byte at offset n must arrive within BODY_GRACE_MS + n / BODY_MIN_BYTES_PER_SEC
//             of the head, else 408 `Request timeout` and the connection closes;
//   budget    bodies being received in this worker hold at most BODY_BUDGET_BYTES together
//             (the process-wide budget split over the cluster's workers), else 503
//             `Overloaded` with `Retry-After: 1` at once.
import { isUtf8 } from 'node:buffer';
import { PassThrough } from 'node:stream';
import { MSG, HttpError, sendError } from '../errors.js';

export const BODY_GRACE_MS = 5_000;
export const BODY_MIN_BYTES_PER_SEC = 256 * 1024;
const PROCESS_BODY_BUDGET_BYTES = 32 * 1024 * 1024;

let budgetBytes = PROCESS_BODY_BUDGET_BYTES;
let budgetUsed = 0;

/** Splits the process-wide budget over `workers` (main.js calls it in each worker). */
export function setBodyBudgetWorkers(workers) {
  budgetBytes = Math.floor(PROCESS_BODY_BUDGET_BYTES / Math.max(1, workers));
}

/**
 * The body as fastify will read it: `payload` through a stream that fails with 408 past
 * the deadline or 503 past the budget. The budget is given back when the response ends.
 */
function guardedBody(reply, payload) {
  const start = Date.now();
  let received = 0;
  let held = 0;
  let timer;
  const body = new PassThrough();
  const release = () => {
    clearTimeout(timer);
    budgetUsed -= held;
    held = 0;
  };
  const fail = (error) => {
    release();
    // Fastify has stopped reading (it answered already, e.g. 413): nothing to fail.
    if (body.destroyed || body.listenerCount('error') === 0) return;
    payload.unpipe(body);
    // The rest of the body is not read: close the connection after the answer.
    body.destroy(Object.assign(error, { headers: { ...error.headers, connection: 'close' } }));
  };
  const arm = () => {
    clearTimeout(timer);
    const due = start + BODY_GRACE_MS + (received * 1000) / BODY_MIN_BYTES_PER_SEC;
    timer = setTimeout(() => fail(new HttpError(408, MSG.requestTimeout)), Math.max(0, due - Date.now()));
  };
  payload.on('data', (chunk) => {
    received += chunk.length;
    if (budgetUsed + chunk.length > budgetBytes) {
      fail(new HttpError(503, MSG.overloaded, undefined, { 'retry-after': '1' }));
      return;
    }
    budgetUsed += chunk.length;
    held += chunk.length;
    arm();
  });
  payload.on('end', () => clearTimeout(timer));
  payload.on('close', () => clearTimeout(timer));
  body.on('end', () => clearTimeout(timer));
  reply.raw.on('finish', release);
  reply.raw.on('close', release);
  arm();
  payload.pipe(body);
  return body;
}

/** Whether a Content-Type header names application/json (any parameters, any case). */
export function isJsonContentType(header) {
  if (typeof header !== 'string') return false;
  const semi = header.indexOf(';');
  const type = (semi === -1 ? header : header.slice(0, semi)).trim();
  return type.length === 16 && type.toLowerCase() === 'application/json';
}

/** preParsing hook of the routes that take a body. */
export function requireJson(request, reply, payload, done) {
  if (!isJsonContentType(request.headers['content-type'])) {
    sendError(reply, 415, MSG.unsupportedMediaType);
    return;
  }
  done(null, guardedBody(reply, payload));
}

/**
 * The one content-type parser (catch-all, raw buffer): POST and PATCH bodies are parsed
 * as JSON objects; a body sent with another method is read and ignored.
 */
export function parseJsonBody(request, body, done) {
  const method = request.method;
  if (method !== 'POST' && method !== 'PATCH') {
    done(null, undefined);
    return;
  }
  if (!isUtf8(body)) {
    done(new HttpError(400, MSG.invalidJson));
    return;
  }
  let value;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    done(new HttpError(400, MSG.invalidJson));
    return;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    done(new HttpError(400, MSG.notAnObject));
    return;
  }
  done(null, value);
}
