// Operations routes: liveness, readiness, metrics, OpenAPI.
import { MSG, JSON_TYPE, sendError } from '../errors.js';



/**
 * @param {import('fastify').FastifyInstance} app
 * @param {{ db: any, state: { draining: boolean }, metricsText: () => Promise<string>, metricsContentType: string }} deps
 */
export function registerHealthRoutes(app, { db, state, metricsText, metricsContentType }) {
  const LIVE = JSON.stringify({ status: 'live' });

  app.get(
    '/health/live',
    {
      schema: {
        summary: 'Liveness: 200 while the process runs',
        tags: ['operations'],
        response: { 200: { type: 'object', properties: { status: { type: 'string', const: 'live' } } } },
      },
    },
    (request, reply) => {
      reply.header('content-type', JSON_TYPE).send(LIVE);
    },
  );

  const checksSchema = {
    type: 'object',
    properties: {
      database: { type: 'string', enum: ['ok', 'unavailable'] },
      draining: { type: 'boolean' },
    },
  };

  app.get(
    '/health/ready',
    {
      schema: {
        summary: 'Readiness: the database answers within 1 s and the service is not draining',
        tags: ['operations'],
        response: {
          200: {
            type: 'object',
            properties: { status: { type: 'string', const: 'ready' }, checks: checksSchema },
          },
          503: {
            type: 'object',
            properties: { error: { type: 'string' }, request_id: { type: 'string' }, checks: checksSchema },
          },
        },
      },
    },
    async (request, reply) => {
      const draining = state.draining;
      const dbOk = await db.ping();
      const checks = { database: dbOk ? 'ok' : 'unavailable', draining };
      if (draining) return sendError(reply, 503, MSG.draining, { checks });
      if (!dbOk) return sendError(reply, 503, MSG.dbUnavailable, { checks });
      return reply.header('content-type', JSON_TYPE).send(JSON.stringify({ status: 'ready', checks }));
    },
  );

  app.get(
    '/metrics',
    {
      schema: {
        summary: 'Prometheus metrics of the whole service (all cluster workers)',
        tags: ['operations'],
        produces: ['text/plain'],
        response: { 200: { type: 'string', description: 'Prometheus text exposition format' } },
      },
    },
    async (request, reply) => {
      const text = await metricsText();
      return reply.header('content-type', metricsContentType).send(text);
    },
  );

  let openapi;
  app.get(
    '/openapi.json',
    { schema: { summary: 'This OpenAPI 3.1 document', tags: ['operations'] } },
    (request, reply) => {
      openapi ??= JSON.stringify(app.swagger());
      reply.header('content-type', JSON_TYPE).send(openapi);
    },
  );


}
