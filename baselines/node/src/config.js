// Configuration, from the environment only (the runtime interface both implementations
// share, docs/contract.md "Runtime interface"):
//
//   DATABASE_URL        PostgreSQL URL (required)
//   JWT_SECRET          HS256 secret tokens are checked against (required, >= 32 bytes)
//   JWT_ISSUER          when set, tokens must carry this `iss`
//   JWT_AUDIENCE        when set, tokens must carry this `aud`
//   HOST, PORT          where to listen (127.0.0.1, 3000)
//   DB_POOL_SIZE        connection budget of the whole service (20); each of the W
//                       workers opens at most max(1, floor(DB_POOL_SIZE / W)), and at
//                       most DB_CONNECTIONS_PER_WORKER
//   DB_CONNECTIONS_PER_WORKER  pipelined connections of one worker (DEFAULT_CONNECTIONS_PER_WORKER,
//                       below); DB_CONNECTIONS_PER_WORKER=$DB_POOL_SIZE gives each worker its
//                       whole share of the budget (the textbook configuration)
//   DB_COALESCE         `true` (default): concurrent point reads share one `= ANY($1)`
//                       statement and concurrent creates one multi-row insert; `false`: one
//                       statement per request (the textbook configuration)
//   WORKERS             cluster processes (the number of cores)
//   DRAIN_TIMEOUT_SECS  how long a draining worker waits for in-flight requests (30)
//   LOG_LEVEL           pino level (info)
//
// Invalid configuration stops start-up with a message naming the variable.
import os from 'node:os';

export class ConfigError extends Error {}

function integer(env, name, fallback, min, max) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function required(env, name) {
  const v = env[name];
  if (v === undefined || v === '') throw new ConfigError(`${name} is required`);
  return v;
}

/** The shortest HS256 secret accepted: 256 bits, the HMAC-SHA256 output (RFC 7518 §3.2). */
export const MIN_SECRET_BYTES = 32;

function secret(env, name) {
  const v = required(env, name);
  const bytes = Buffer.byteLength(v, 'utf8');
  if (bytes < MIN_SECRET_BYTES) {
    throw new ConfigError(`${name} is ${bytes} bytes; expected at least ${MIN_SECRET_BYTES} random bytes (e.g. \`openssl rand -hex 32\`)`);
  }
  return v;
}

function boolean(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/**
 * Pipelined connections per worker, as shipped: one. postgres.js pipelines queries on a
 * busy connection, so a worker needs no pool to keep PostgreSQL busy; its event loop (one
 * core) is the bottleneck, and each further connection costs CPU on both sides (more
 * Sync/ReadyForQuery round trips, smaller batches, more backends competing for the same
 * two cores). Measured on the 2-core reference machine (2 workers, 64 client connections,
 * 100,000 users, coalescing on, ferry compare 2 rounds of 5 s, 2026-12-06):
 *
 *   connections per worker          1          2          4     10, no coalescing (textbook)
 *   GET /users/{id}            29,086/s   24,465/s   22,666/s   18,327/s
 *   POST /users                20,510/s   16,145/s   12,134/s   10,448/s
 *
 * (One connection without coalescing: 27,038/s and 10,141/s.) The budget DB_POOL_SIZE
 * still caps it.
 */
export const DEFAULT_CONNECTIONS_PER_WORKER = 1;

/** @param {NodeJS.ProcessEnv} env */
export function loadConfig(env = process.env) {
  const workers = integer(env, 'WORKERS', os.availableParallelism(), 1, 1024);
  const poolSize = integer(env, 'DB_POOL_SIZE', 20, 1, 10_000);
  const connectionsPerWorker = integer(env, 'DB_CONNECTIONS_PER_WORKER', DEFAULT_CONNECTIONS_PER_WORKER, 1, 10_000);
  const databaseUrl = required(env, 'DATABASE_URL');
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new ConfigError('DATABASE_URL must be a postgres:// URL');
  return {
    databaseUrl,
    jwtSecret: secret(env, 'JWT_SECRET'),
    jwtIssuer: env.JWT_ISSUER || undefined,
    jwtAudience: env.JWT_AUDIENCE || undefined,
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 3000, 0, 65535),
    poolSize,
    workers,
    // The budget is shared by the workers; within it, each opens as few as were measured best.
    poolPerWorker: Math.min(connectionsPerWorker, Math.max(1, Math.floor(poolSize / workers))),
    coalesce: boolean(env, 'DB_COALESCE', true),
    drainTimeoutSecs: integer(env, 'DRAIN_TIMEOUT_SECS', 30, 0, 3600),
    logLevel: env.LOG_LEVEL || 'info',
  };
}
