import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_CONNECTIONS_PER_WORKER, loadConfig } from '../src/config.js';

const env = { DATABASE_URL: 'postgres://u@h/db', JWT_SECRET: 'x'.repeat(32), WORKERS: '2' };

test('as shipped: few pipelined connections per worker, coalescing on', () => {
  const config = loadConfig(env);
  assert.equal(config.poolPerWorker, DEFAULT_CONNECTIONS_PER_WORKER);
  assert.equal(config.coalesce, true);
});

test('the textbook configuration by settings: the whole share of DB_POOL_SIZE, no coalescing', () => {
  const config = loadConfig({ ...env, DB_POOL_SIZE: '20', DB_CONNECTIONS_PER_WORKER: '20', DB_COALESCE: 'false' });
  assert.equal(config.poolPerWorker, 10, 'capped by the share of the budget: 20 / 2 workers');
  assert.equal(config.coalesce, false);
  assert.equal(loadConfig({ ...env, DB_POOL_SIZE: '1', DB_CONNECTIONS_PER_WORKER: '4' }).poolPerWorker, 1);
});

test('bad values stop start-up naming the variable', () => {
  for (const [name, value] of [['DB_COALESCE', 'yes'], ['DB_CONNECTIONS_PER_WORKER', '0'], ['DB_CONNECTIONS_PER_WORKER', 'two']]) {
    assert.throws(() => loadConfig({ ...env, [name]: value }), (e) => e instanceof ConfigError && e.message.includes(name), `${name}=${value}`);
  }
});
