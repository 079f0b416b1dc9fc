// POST /api/v1/process: the CPU-bound batch endpoint (computation in ../process.js).
//
// Load shedding: each cluster worker is one core and runs one batch at a time on its
// event loop (a batch of 10,000 records takes a few milliseconds; a worker_threads pool
// would only add a copy of the records while cluster already uses every core). A request
// is admitted once its body has been read (a slow sender holds no place; bodies being
// read are bounded by the body budget of ./body.js). At most 1 + PROCESS_QUEUE requests
// per worker are admitted — waiting for the loop or computing; any more get 503
// `Overloaded` with `Retry-After: 1` at once.
import { MSG, JSON_TYPE, HttpError, sendError } from '../errors.js';
import { MAX_RECORDS, processRecords, renderResult } from '../process.js';
import { requireJson } from './body.js';

export const PROCESS_BODY_LIMIT = 8 * 1024 * 1024;
export const PROCESS_SLOTS = 1;
export const PROCESS_QUEUE = 16;

const statsSchema = {
  type: 'object',
  properties: Object.fromEntries(
    ['count', 'sum', 'min', 'max', 'mean', 'p50', 'p95', 'p99'].map((k) => [k, { type: 'integer' }]),
  ),
};

/** @param {import('fastify').FastifyInstance} app */
export function registerProcessRoutes(app, { slots = PROCESS_SLOTS, queue = PROCESS_QUEUE } = {}) {
  let admitted = 0;
  const limit = slots + queue;
  function release() {
    admitted -= 1;
  }

  app.post(
    '/api/v1/process',
    {
      bodyLimit: PROCESS_BODY_LIMIT,
      schema: {
        summary: 'Validate and aggregate a batch of payment records (deterministic, CPU-bound)',
        tags: ['process'],
        body: {
          type: 'object',
          required: ['records'],
          properties: {
            records: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_RECORDS,
              items: {
                type: 'object',
                properties: {
                  user_id: { type: 'string', format: 'uuid' },
                  amount_cents: { type: 'integer', minimum: 0, maximum: 1_000_000_000 },
                  currency: { type: 'string', pattern: '^[A-Z]{3}$' },
                  tags: { type: 'array', maxItems: 8, items: { type: 'string', pattern: '^[a-z0-9_-]{1,32}$' } },
                  ts: { type: 'string', format: 'date-time' },
                },
              },
            },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              records: { type: 'integer' },
              valid: { type: 'integer' },
              invalid: {
                type: 'array',
                maxItems: 100,
                items: { type: 'object', properties: { index: { type: 'integer' }, error: { type: 'string' } } },
              },
              by_currency: { type: 'object', additionalProperties: statsSchema },
              by_tag: { type: 'object', additionalProperties: statsSchema },
              digest: { type: 'string', pattern: '^[0-9a-f]{64}$' },
            },
          },
          400: { $ref: 'Error#' },
          413: { $ref: 'Error#' },
          415: { $ref: 'Error#' },
          503: { $ref: 'Error#' },
        },
      },
      preParsing: requireJson,
      preHandler(request, reply, done) {
        if (admitted >= limit) {
          sendError(reply, 503, MSG.overloaded, undefined, { 'retry-after': '1' });
          return;
        }
        admitted += 1;
        reply.raw.on('close', release);
        done();
      },
    },
    (request, reply) => {
      const records = request.body?.records;
      if (!Array.isArray(records) || records.length === 0) throw new HttpError(400, MSG.recordsRequired);
      if (records.length > MAX_RECORDS) throw new HttpError(413, MSG.tooManyRecords);
      const body = renderResult(processRecords(records));
      reply.header('content-type', JSON_TYPE).send(body);
    },
  );
}
