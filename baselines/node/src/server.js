// Builds the fastify application: limits, hooks, error mapping, routes. No listening and
// no signals here (main.js), so tests can build it on port 0.
//
// Limits (docs/contract.md "Limits"):
//   request head   16 KiB (Node's maxHeaderSize → 431) and 64 header fields (counted in the
//                  first onRequest hook from rawHeaders; Node's maxHeadersCount would drop
//                  the extra fields silently) → 431 `Request header fields too large`
//   head timeout   5 s (headersTimeout, checked every second, for every request of a
//                  connection) → 408, connection closed
//   body deadline  5 s, then at least 256 KiB/s (routes/body.js) → 408, connection closed;
//                  requestTimeout (60 s) bounds the whole request on top
//   body budget    32 MiB over the workers for bodies being received (routes/body.js) → 503
//   connections    no maxConnections: Node accepts a connection over it and then
//                  destroys it (a reset), which is worse than the listen backlog
//   JSON bodies    64 KiB, `/api/v1/process` 8 MiB → 413 `Payload too large`
import http from 'node:http';
import Fastify, { LogController } from 'fastify';
import swagger from '@fastify/swagger';
import { MSG, JSON_TYPE, HttpError, errorBody, isDatabaseUnavailable, sendError } from './errors.js';
import { requestIdFor } from './requestId.js';
import { uuidv7 } from './uuid.js';
import { routeTemplate } from './metrics.js';
import { parseJsonBody } from './routes/body.js';
import { registerUserRoutes } from './routes/users.js';
import { registerProcessRoutes } from './routes/process.js';
import { registerHealthRoutes } from './routes/health.js';

export const HEAD_LIMIT_BYTES = 16 * 1024;
export const MAX_HEADER_FIELDS = 64;
export const JSON_BODY_LIMIT = 64 * 1024;
export const HEAD_TIMEOUT_MS = 5_000;
export const REQUEST_TIMEOUT_MS = 60_000; // whole request, body included
export const KEEP_ALIVE_TIMEOUT_MS = 72_000;

// Known paths, for 405 with Allow (anything else is 404).
const KNOWN_PATHS = [
  { path: /^\/users$/, allow: 'GET, POST', route: '/users' },
  { path: /^\/users\/[^/]+$/, allow: 'GET, PATCH, DELETE', route: '/users/{id}' },
  { path: /^\/api\/v1\/process$/, allow: 'POST', route: '/api/v1/process' },
  { path: /^\/health\/live$/, allow: 'GET', route: '/health/live' },
  { path: /^\/health\/ready$/, allow: 'GET', route: '/health/ready' },
  { path: /^\/metrics$/, allow: 'GET', route: '/metrics' },
  { path: /^\/openapi\.json$/, allow: 'GET', route: '/openapi.json' },
];

function knownPath(url) {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  for (const known of KNOWN_PATHS) if (known.path.test(path)) return known;
  return null;
}

const noValidation = () => true;

/**
 * Answers errors Node's HTTP parser raises before there is a request (head too large,
 * head timeout, malformed request) with the contract's JSON body, then closes.
 */
function clientErrorHandler(err, socket) {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  let status = 400;
  let message = MSG.badRequest;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    message = MSG.headersTooLarge;
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' || err.code === 'HPE_HEADER_TIMEOUT') {
    status = 408;
    message = MSG.requestTimeout;
  }
  if (socket.writable) {
    const id = uuidv7();
    const body = errorBody(id, message);
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\n` +
        `content-type: ${JSON_TYPE}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${id}\r\nconnection: close\r\n\r\n${body}`,
    );
    // Let the client read the answer; then make sure the socket goes.
    setTimeout(() => socket.destroy(), 1_000).unref();
  } else {
    socket.destroy();
  }
}

/**
 * @param {{
 *   config: ReturnType<import('./config.js').loadConfig>,
 *   db: ReturnType<import('./db.js').createDb>,
 *   authenticate: ReturnType<import('./auth.js').createAuthenticator>,
 *   metrics: ReturnType<import('./metrics.js').createMetrics>,
 *   metricsText?: () => Promise<string>,
 *   state?: { draining: boolean },
 *   logger?: boolean | object,
 * }} deps
 */
export async function buildApp({ config, db, authenticate, metrics, metricsText, state = { draining: false }, logger }) {
  const app = Fastify({
    logger: logger ?? { level: config.logLevel },
    logController: new LogController({ disableRequestLogging: true }), // errors only, with the request id
    genReqId: requestIdFor,
    bodyLimit: JSON_BODY_LIMIT,
    http: {
      maxHeaderSize: HEAD_LIMIT_BYTES,
      headersTimeout: HEAD_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      connectionsCheckingInterval: 1_000,
    },
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    forceCloseConnections: 'idle',
    return503OnClosing: false, // requests already on a connection finish normally
    exposeHeadRoutes: false, // HEAD is not in any Allow list: 405
    routerOptions: { maxParamLength: HEAD_LIMIT_BYTES }, // long ids are 400 after auth, not 404
    clientErrorHandler,
    frameworkErrors(err, request, reply) {
      reply.header('x-request-id', request.id);
      sendError(reply, 400, MSG.badRequest);
    },
  });

  app.decorateRequest('routeLabel', '');
  app.decorateRequest('listQuery', null);

  app.addSchema({
    $id: 'Error',
    type: 'object',
    required: ['error', 'request_id'],
    properties: {
      error: { type: 'string' },
      request_id: { type: 'string' },
      fields: { type: 'object', additionalProperties: { type: 'string' } },
    },
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'user-service (Node.js baseline)',
        version: '1.0.0',
        description: 'The user-service contract, docs/contract.md.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      },
    },
  });

  // Route schemas describe the API for /openapi.json and serialize 2xx bodies
  // (fast-json-stringify); requests are checked by hand, in the contract's order and with
  // its messages, so schema validation is switched off.
  app.setValidatorCompiler(() => noValidation);

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, parseJsonBody);

  // Every route carries its metrics label (`/users/{id}`) in its config; a request that
  // no route serves (404, 405) sets `routeLabel` itself. (A hook per route that set the
  // label cost a hook call per request.)
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, metricsLabel: routeTemplate(route.url) };
  });

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    metrics.requestStarted();
    reply.raw.on('close', metrics.requestEnded);
    if (request.raw.rawHeaders.length > 2 * MAX_HEADER_FIELDS) {
      reply.header('connection', 'close');
      sendError(reply, 431, MSG.headersTooLarge);
      return;
    }
    if (request.is404) {
      const known = knownPath(request.url);
      if (known === null) {
        request.routeLabel = 'unmatched';
        sendError(reply, 404, MSG.notFound);
      } else {
        request.routeLabel = known.route;
        sendError(reply, 405, MSG.methodNotAllowed, undefined, { allow: known.allow });
      }
      return;
    }
    done();
  });

  // While draining, every response asks the client to leave.
  app.addHook('onSend', (request, reply, payload, done) => {
    if (state.draining) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    const label = request.routeLabel || request.routeOptions.config.metricsLabel || 'unmatched';
    metrics.observe(request.method, label, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });

  // Normally answered by the onRequest hook above; kept as the fallback.
  app.setNotFoundHandler((request, reply) => {
    request.routeLabel = 'unmatched';
    sendError(reply, 404, MSG.notFound);
  });

  app.setErrorHandler((err, request, reply) => {
    if (err instanceof HttpError) return sendError(reply, err.statusCode, err.message, err.extra, err.headers);
    switch (err.code) {
      case 'FST_ERR_CTP_BODY_TOO_LARGE':
        return sendError(reply, 413, MSG.payloadTooLarge);
      case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
        return sendError(reply, 415, MSG.unsupportedMediaType);
      case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
        return sendError(reply, 400, MSG.invalidJson);
      default:
    }
    if (isDatabaseUnavailable(err)) {
      request.log.warn({ err: { code: err.code, message: err.message } }, 'database unavailable');
      return sendError(reply, 503, MSG.dbUnavailable, undefined, { 'retry-after': '1' });
    }
    const status = err.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(reply, status, http.STATUS_CODES[status] ?? MSG.badRequest);
    }
    request.log.error({ err }, 'request failed');
    return sendError(reply, 500, MSG.internal);
  });

  registerHealthRoutes(app, {
    db,
    state,
    metricsText: metricsText ?? metrics.local,
    metricsContentType: metrics.contentType,
  });
  registerUserRoutes(app, { db, authenticate });
  registerProcessRoutes(app);

  await app.ready();
  return app;
}
