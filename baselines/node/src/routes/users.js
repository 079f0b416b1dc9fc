// /users and /users/{id} (docs/contract.md "Users" and the decisions).
//
// Check order: route and method (server.js) → bearer token and scope → path id → query
// → body (content type, size, JSON, object) → fields (422) → database. Token, id and
// query are checked in the route's onRequest hook so that they come before fastify
// reads and parses the body.
import { hasScope } from '../auth.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { normalizeEmail } from '../email.js';
import { MSG, HttpError, isUniqueViolation, sendError } from '../errors.js';
import { isHyphenatedUuid, uuidv7 } from '../uuid.js';
import { requireJson } from './body.js';

const DEFAULT_LIMIT = 20;
const MAX_LIMIT = 100;
const DIGITS = /^[0-9]+$/;
const LEADING_ZEROS = /^0+/;
const EMAIL_REASON = 'must be a valid email address';
const ID_REASON = 'must be a UUID in hyphenated form';

const WWW_MISSING = { 'www-authenticate': 'Bearer' };
const WWW_INVALID = { 'www-authenticate': 'Bearer error="invalid_token"' };

// Rows ({ id, email, created_at: Date, updated_at: Date }) are returned as they come from
// postgres.js: the 2xx schemas serialize them (fast-json-stringify renders a Date of a
// `date-time` property as toISOString does, with milliseconds), so no copy per response.

/** `limit`: decimal digits, value 1-100 (leading zeros allowed); null when invalid. */
function parseLimit(raw) {
  if (raw === undefined) return DEFAULT_LIMIT;
  if (typeof raw !== 'string' || !DIGITS.test(raw)) return null; // includes a repeated ?limit
  const digits = raw.replace(LEADING_ZEROS, '');
  if (digits.length === 0 || digits.length > 3) return null;
  const n = Number(digits);
  return n >= 1 && n <= MAX_LIMIT ? n : null;
}

const userSchema = {
  type: 'object',
  required: ['id', 'email', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    email: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    updated_at: { type: 'string', format: 'date-time' },
  },
};
const err = { $ref: 'Error#' };
const authErrors = { 401: err, 403: err, 503: err };
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', format: 'uuid', description: 'hyphenated 8-4-4-4-12, either case' } },
};
const emailBody = {
  type: 'object',
  required: ['email'],
  properties: { email: { type: 'string', maxLength: 254, format: 'email' } },
};

/**
 * @param {import('fastify').FastifyInstance} app
 * @param {{ db: any, authenticate: ReturnType<import('../auth.js').createAuthenticator> }} deps
 */
export function registerUserRoutes(app, { db, authenticate }) {
  /** onRequest guard: token, scope, then the path id and the list query. */
  function guard(scope) {
    const missingScope = `Missing scope ${scope}`;
    return function usersGuard(request, reply, done) {
      const params = request.params;
      // `/users/` is not `/users/{id}` with an empty id: unknown route.
      if (params.id === '') {
        request.routeLabel = 'unmatched';
        sendError(reply, 404, MSG.notFound);
        return;
      }
      const auth = authenticate(request.headers.authorization);
      if (auth.kind !== 'ok') {
        if (auth.kind === 'missing') sendError(reply, 401, MSG.missingToken, undefined, WWW_MISSING);
        else sendError(reply, 401, MSG.invalidToken, undefined, WWW_INVALID);
        return;
      }
      if (!hasScope(auth.scope, scope)) {
        sendError(reply, 403, missingScope);
        return;
      }
      if (params.id !== undefined && !isHyphenatedUuid(params.id)) {
        sendError(reply, 400, MSG.invalidUserId);
        return;
      }
      done();
    };
  }
  const canRead = guard('users:read');
  const canWrite = guard('users:write');

  function listGuard(request, reply, done) {
    canRead(request, reply, () => {
      const query = request.query;
      const limit = parseLimit(query.limit);
      if (limit === null) {
        sendError(reply, 400, MSG.invalidLimit);
        return;
      }
      let cursor = null;
      if (query.after !== undefined) {
        cursor = decodeCursor(query.after);
        if (cursor === null) {
          sendError(reply, 400, MSG.invalidCursor);
          return;
        }
      }
      request.listQuery = { limit, cursor };
      done();
    });
  }

  app.get(
    '/users/:id',
    {
      onRequest: canRead,
      schema: {
        summary: 'Get a user',
        tags: ['users'],
        security: [{ bearer: ['users:read'] }],
        params: idParams,
        response: { 200: userSchema, 400: err, 404: err, ...authErrors },
      },
    },
    async (request) => {
      const row = await db.getUser(request.params.id);
      if (row === null) throw new HttpError(404, MSG.userNotFound);
      return row;
    },
  );

  app.get(
    '/users',
    {
      onRequest: listGuard,
      schema: {
        summary: 'List users, newest first (keyset pagination on created_at, id)',
        tags: ['users'],
        security: [{ bearer: ['users:read'] }],
        querystring: {
          type: 'object',
          properties: {
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
            after: { type: 'string', description: 'the `next` cursor of the previous page' },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['items', 'next'],
            properties: { items: { type: 'array', items: userSchema }, next: { type: ['string', 'null'] } },
          },
          400: err,
          ...authErrors,
        },
      },
    },
    async (request) => {
      const { limit, cursor } = request.listQuery;
      const rows = cursor === null
        ? await db.listFirst(limit + 1)
        : await db.listAfter(cursor.createdAt, cursor.id, limit + 1);
      const more = rows.length > limit;
      const page = more ? rows.slice(0, limit) : rows;
      const last = page[page.length - 1];
      return {
        items: page,
        next: more ? encodeCursor(last.created_at, last.id) : null,
      };
    },
  );

  app.post(
    '/users',
    {
      onRequest: canWrite,
      preParsing: requireJson,
      schema: {
        summary: 'Create a user (idempotent when the client sends `id`)',
        tags: ['users'],
        security: [{ bearer: ['users:write'] }],
        body: {
          type: 'object',
          required: ['email'],
          properties: { ...emailBody.properties, id: { type: 'string', format: 'uuid' } },
        },
        response: { 200: userSchema, 201: userSchema, 400: err, 409: err, 413: err, 415: err, 422: err, ...authErrors },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const fields = {};
      const email = normalizeEmail(body.email);
      if (email === null) fields.email = EMAIL_REASON;
      let id = body.id;
      if (id === undefined || id === null) id = uuidv7();
      else if (!isHyphenatedUuid(id)) fields.id = ID_REASON;
      else id = id.toLowerCase();
      if (email === null || fields.id !== undefined) throw new HttpError(422, MSG.validation, { fields });

      // src/batches.js: insert unless the id or the email exists, then which one it was.
      const outcome = await db.createUser(id, email);
      switch (outcome.kind) {
        case 'created':
          reply.code(201).header('location', `/users/${outcome.row.id}`);
          return outcome.row;
        case 'existed':
          reply.code(200).header('location', `/users/${outcome.row.id}`);
          return outcome.row;
        case 'idTaken':
          throw new HttpError(409, MSG.idExists);
        default:
          throw new HttpError(409, MSG.emailTaken);
      }
    },
  );

  app.patch(
    '/users/:id',
    {
      onRequest: canWrite,
      preParsing: requireJson,
      schema: {
        summary: "Change a user's email",
        tags: ['users'],
        security: [{ bearer: ['users:write'] }],
        params: idParams,
        body: emailBody,
        response: { 200: userSchema, 400: err, 404: err, 409: err, 413: err, 415: err, 422: err, ...authErrors },
      },
    },
    async (request) => {
      const email = normalizeEmail(request.body.email);
      if (email === null) throw new HttpError(422, MSG.validation, { fields: { email: EMAIL_REASON } });
      let row;
      try {
        row = await db.updateEmail(request.params.id, email);
      } catch (e) {
        if (isUniqueViolation(e)) throw new HttpError(409, MSG.emailTaken);
        throw e;
      }
      if (row === null) throw new HttpError(404, MSG.userNotFound);
      return row;
    },
  );

  app.delete(
    '/users/:id',
    {
      onRequest: canWrite,
      schema: {
        summary: 'Delete a user',
        tags: ['users'],
        security: [{ bearer: ['users:write'] }],
        params: idParams,
        response: { 204: { type: 'null', description: 'deleted' }, 400: err, 404: err, ...authErrors },
      },
    },
    async (request, reply) => {
      const deleted = await db.deleteUser(request.params.id);
      if (!deleted) throw new HttpError(404, MSG.userNotFound);
      return reply.code(204).send();
    },
  );
}
