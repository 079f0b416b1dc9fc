// JSON request bodies, in the contract's check order: 415 for a content type other than
// application/json (parameters allowed), 413 over the route's body limit (fastify's
// bodyLimit, checked against Content-Length first), 400 `Invalid JSON body`, 400 `Body
// must be a JSON object`. The 422 field checks are the handlers' business.
import { isUtf8 } from 'node:buffer';
import { MSG, HttpError, sendError } from '../errors.js';

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
  done(null, payload);
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
