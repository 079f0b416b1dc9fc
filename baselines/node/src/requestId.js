// x-request-id: an incoming id of 1-64 chars of [A-Za-z0-9._-] is kept; anything else
// (absent, too long, other characters, repeated header) is replaced by a fresh UUID v7.
import { uuidv7 } from './uuid.js';

const VALID = /^[A-Za-z0-9._-]{1,64}$/;

/** fastify `genReqId`: called with the raw IncomingMessage. */
export function requestIdFor(raw) {
  const incoming = raw.headers['x-request-id'];
  return typeof incoming === 'string' && VALID.test(incoming) ? incoming : uuidv7();
}
