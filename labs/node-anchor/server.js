// The anchor: a minimal fastify + postgres.js point read, in the shape of the TechEmpower
// benchmarks' fastify `/db` test (a cluster of one process per core, ONE postgres.js
// connection per process, no auth, no validation, no metrics), on this project's users
// table. It is what a point read costs in Node with the best-known recipe and nothing
// else; lab.toml compares the Node baseline (baselines/node), which also does what the
// contract requires (JWT, id validation, request id, metrics, limits), against it.
//
//   GET /users/:id    200 the row, 404 when there is none
//   GET /health/ready 200 when the database answers
//
// Environment: DATABASE_URL (required; the embedded PostgreSQL's socket form
// `postgres:///db?host=DIR&port=N&user=U` is accepted), HOST, PORT, WORKERS.
//
// fastify and postgres.js are loaded from the baseline's node_modules, so both servers run
// the very same library versions (baselines/node/package-lock.json) and the lab needs one
// `npm ci`.
import cluster from 'node:cluster';
import { createRequire } from 'node:module';
import os from 'node:os';

const require = createRequire(new URL('../../baselines/node/package.json', import.meta.url));
const Fastify = require('fastify');
const postgres = require('postgres');

const workers = Number(process.env.WORKERS || os.availableParallelism());

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (worker, code) => {
    process.stderr.write(`anchor: worker ${worker.process.pid} exited (${code})\n`);
    process.exit(1);
  });
  const stop = () => {
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  // postgres.js takes host, port and user of a Unix socket from its options, not from
  // the URL's query (as baselines/node/src/databaseUrl.js explains).
  const url = new URL(process.env.DATABASE_URL);
  const options = { max: 1 };
  for (const key of ['host', 'port', 'user']) {
    const value = url.searchParams.get(key);
    if (value !== null) {
      options[key] = key === 'port' ? Number(value) : value;
      url.searchParams.delete(key);
    }
  }
  const sql = postgres(url.href, options);

  const app = Fastify({ logger: false });
  const user = {
    type: 'object',
    properties: {
      id: { type: 'string' },
      email: { type: 'string' },
      created_at: { type: 'string', format: 'date-time' },
      updated_at: { type: 'string', format: 'date-time' },
    },
  };
  app.get('/users/:id', { schema: { response: { 200: user } } }, async (request, reply) => {
    const rows = await sql`SELECT id, email, created_at, updated_at FROM users WHERE id = ${request.params.id}`;
    if (rows.length === 0) return reply.code(404).send({ error: 'User not found' });
    return rows[0];
  });
  app.get('/health/ready', async () => {
    await sql`SELECT 1`;
    return { status: 'ready' };
  });
  process.on('SIGTERM', () => app.close().then(() => sql.end({ timeout: 1 })).then(() => process.exit(0)));
  await app.listen({ host: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT || 3000) });
}
