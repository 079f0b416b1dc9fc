// Smoke tests of the assembled app (fastify inject, no socket).
// - "no database" tests point DATABASE_URL at a closed port: they check everything that
//   happens before the database, and that a dead database is a quick 503.
// - "with database" tests run against a migrated PostgreSQL: DATABASE_URL's, else a
//   throwaway cluster (test/support/postgres.js).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { createSigner } from 'fast-jwt';
import { createAuthenticator } from '../src/auth.js';
import { createDb } from '../src/db.js';
import { createMetrics } from '../src/metrics.js';
import { buildApp } from '../src/server.js';
import { startPostgres } from './support/postgres.js';

const SECRET = 'node-test-secret-0123456789abcdef0123';
const sign = (claims, opts = {}) =>
  createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 60_000, ...opts })(claims);
const RW = sign({ sub: 't', scope: 'users:read users:write' });
const RO = sign({ sub: 't', scope: 'users:read' });

async function makeApp(databaseUrl) {
  const config = { databaseUrl, jwtSecret: SECRET, poolPerWorker: 4, coalesce: true, logLevel: 'silent' };
  const db = createDb(config);
  const metrics = createMetrics({ db, registry: new client.Registry() });
  const app = await buildApp({ config, db, authenticate: createAuthenticator(config), metrics, logger: false });
  after(async () => {
    await app.close();
    await db.close(1);
  });
  return app;
}

const noDb = await makeApp('postgres://nobody@127.0.0.1:1/none');
const ID = '0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f';

function assertError(res, status, message) {
  assert.equal(res.statusCode, status, res.body);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  const body = res.json();
  assert.equal(body.error, message);
  assert.equal(body.request_id, res.headers['x-request-id']);
  return body;
}

test('404, 405 with Allow, request ids', async () => {
  assertError(await noDb.inject('/nope'), 404, 'Not found');
  assertError(await noDb.inject('/users/'), 404, 'Not found');
  let res = await noDb.inject({ method: 'PUT', url: '/users' });
  assertError(res, 405, 'Method not allowed');
  assert.equal(res.headers.allow, 'GET, POST');
  res = await noDb.inject({ method: 'POST', url: `/users/${ID}`, headers: { 'content-type': 'text/plain' }, payload: 'x' });
  assertError(res, 405, 'Method not allowed');
  assert.equal(res.headers.allow, 'GET, PATCH, DELETE');
  res = await noDb.inject({ method: 'GET', url: '/api/v1/process' });
  assert.equal(res.headers.allow, 'POST');
  res = await noDb.inject({ method: 'HEAD', url: '/health/live' });
  assert.equal(res.statusCode, 405);
  assert.equal(res.headers.allow, 'GET');
  res = await noDb.inject({ url: '/health/live', headers: { 'x-request-id': 'keep.me-1_2' } });
  assert.equal(res.headers['x-request-id'], 'keep.me-1_2');
  assert.deepEqual(res.json(), { status: 'live' });
  res = await noDb.inject({ url: '/nope', headers: { 'x-request-id': 'no spaces' } });
  assert.match(res.headers['x-request-id'], /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
});

test('auth comes before id, body and content type checks', async () => {
  let res = await noDb.inject({ method: 'POST', url: '/users', headers: { 'content-type': 'text/plain' }, payload: 'x' });
  assertError(res, 401, 'Missing bearer token');
  assert.equal(res.headers['www-authenticate'], 'Bearer');
  res = await noDb.inject({ url: '/users/nope', headers: { authorization: 'Bearer a.b.c' } });
  assertError(res, 401, 'Invalid token');
  assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"');
  const expired = sign({ scope: 'users:read' }, { expiresIn: undefined });
  for (const token of [
    sign({ scope: 'users:read' }, { expiresIn: undefined }), // no exp
    sign({ scope: 'users:read', exp: Math.floor(Date.now() / 1000) - 60 }, { expiresIn: undefined }), // expired past leeway
    createSigner({ key: SECRET, algorithm: 'HS384', expiresIn: 60_000 })({ scope: 'users:read' }),
    createSigner({ key: 'other', algorithm: 'HS256', expiresIn: 60_000 })({ scope: 'users:read' }),
    createSigner({ algorithm: 'none', expiresIn: 60_000 })({ scope: 'users:read' }),
    sign({ scope: 'users:read', nbf: Math.floor(Date.now() / 1000) + 120 }),
  ]) {
    assertError(await noDb.inject({ url: `/users/${ID}`, headers: { authorization: `Bearer ${token}` } }), 401, 'Invalid token');
  }
  assert.ok(expired);
  // within the 30 s leeway
  const justExpired = sign({ scope: 'users:read', exp: Math.floor(Date.now() / 1000) - 10 }, { expiresIn: undefined });
  res = await noDb.inject({ url: '/users/nope', headers: { authorization: `Bearer ${justExpired}` } });
  assertError(res, 400, 'Invalid user id');
  res = await noDb.inject({ method: 'DELETE', url: '/users/nope', headers: { authorization: `Bearer ${RO}` } });
  assertError(res, 403, 'Missing scope users:write');
  res = await noDb.inject({ url: '/users', headers: { authorization: `Bearer ${sign({ scope: 'users:write' })}` } });
  assertError(res, 403, 'Missing scope users:read');
  for (const bad of ['{' + ID + '}', ID.replace(/-/g, ''), `urn:uuid:${ID}`, `${ID}0`]) {
    res = await noDb.inject({ method: 'PATCH', url: `/users/${encodeURIComponent(bad)}`, headers: { authorization: `Bearer ${RW}`, 'content-type': 'text/plain' }, payload: 'x' });
    assertError(res, 400, 'Invalid user id');
  }
});

test('query checks', async () => {
  const h = { authorization: `Bearer ${RO}` };
  for (const q of ['limit=0', 'limit=101', 'limit=-1', 'limit=1.5', 'limit=', 'limit=abc', 'limit=1&limit=2', 'limit=%2B5']) {
    assertError(await noDb.inject({ url: `/users?${q}`, headers: h }), 400, 'Invalid limit');
  }
  for (const q of ['after=', 'after=xyz', 'after=MjAyNi0xMS0yOFQxMjo0MDo1Ni45ODlafDAxOTBjNmE0LTFmMmItN2MzZC04ZTRmLTVhNmI3YzhkOWUwZg==']) {
    assertError(await noDb.inject({ url: `/users?${q}`, headers: h }), 400, 'Invalid cursor');
  }
});

test('body checks in order: 415, 413, 400 JSON, 400 object, 422', async () => {
  const h = { authorization: `Bearer ${RW}` };
  const post = (headers, payload) => noDb.inject({ method: 'POST', url: '/users', headers: { ...h, ...headers }, payload });
  assertError(await post({}, undefined), 415, 'Content-Type must be application/json');
  assertError(await post({ 'content-type': 'text/json' }, '{}'), 415, 'Content-Type must be application/json');
  assertError(await post({ 'content-type': 'application/json' }, `{"email":"${'a'.repeat(70_000)}"}`), 413, 'Payload too large');
  assertError(await post({ 'content-type': 'application/json' }, '{"email":'), 400, 'Invalid JSON body');
  assertError(await post({ 'content-type': 'application/json' }, ''), 400, 'Invalid JSON body');
  assertError(await post({ 'content-type': 'application/json' }, Buffer.from([0x7b, 0xff, 0x7d])), 400, 'Invalid JSON body');
  assertError(await post({ 'content-type': 'application/json; charset=utf-8' }, '[]'), 400, 'Body must be a JSON object');
  assertError(await post({ 'content-type': 'application/json' }, 'null'), 400, 'Body must be a JSON object');
  let body = assertError(await post({ 'content-type': 'application/json' }, '{"email":"nope","id":"x"}'), 422, 'Validation failed');
  assert.deepEqual(Object.keys(body), ['error', 'request_id', 'fields']);
  assert.deepEqual(Object.keys(body.fields), ['email', 'id']);
  body = assertError(await post({ 'content-type': 'application/json' }, '{}'), 422, 'Validation failed');
  assert.deepEqual(Object.keys(body.fields), ['email']);
  const patch = await noDb.inject({ method: 'PATCH', url: `/users/${ID}`, headers: { ...h, 'content-type': 'application/json' }, payload: '{"email":5}' });
  assertError(patch, 422, 'Validation failed');
});

test('a database that refuses connections is a quick 503 with Retry-After', async () => {
  const started = Date.now();
  const res = await noDb.inject({ url: `/users/${ID}`, headers: { authorization: `Bearer ${RO}` } });
  assertError(res, 503, 'Database unavailable');
  assert.equal(res.headers['retry-after'], '1');
  assert.ok(!/ECONNREFUSED|postgres|SELECT/i.test(res.body));
  assert.ok(Date.now() - started < 4_000);
  const ready = await noDb.inject('/health/ready');
  const body = assertError(ready, 503, 'Database unavailable');
  assert.deepEqual(body.checks, { database: 'unavailable', draining: false });
});

test('process endpoint over HTTP', async () => {
  const post = (payload, headers = { 'content-type': 'application/json' }) =>
    noDb.inject({ method: 'POST', url: '/api/v1/process', headers, payload });
  assertError(await post('{"records":[]}', { 'content-type': 'text/plain' }), 415, 'Content-Type must be application/json');
  assertError(await post('[]'), 400, 'Body must be a JSON object');
  assertError(await post('{}'), 400, 'Body must have a non-empty records array');
  assertError(await post('{"records":[]}'), 400, 'Body must have a non-empty records array');
  assertError(await post('{"records":{}}'), 400, 'Body must have a non-empty records array');
  assertError(await post(JSON.stringify({ records: Array(10_001).fill(0) })), 413, 'Too many records');
  const res = await post('{"records":[{"user_id":"0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f","amount_cents":5e2,"currency":"EUR","tags":["b"],"ts":"2024-02-29T00:00:00Z"},1]}');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  const body = res.json();
  assert.equal(body.valid, 1);
  assert.deepEqual(body.invalid, [{ index: 1, error: 'invalid record' }]);
  assert.match(body.digest, /^[0-9a-f]{64}$/);
});

test('metrics and openapi', async () => {
  const m = await noDb.inject('/metrics');
  assert.equal(m.statusCode, 200);
  for (const name of ['http_request_duration_seconds_bucket', 'http_requests_in_flight', 'db_pool_connections', 'db_pool_idle_connections', 'db_pool_acquire_wait_seconds', 'process_cpu_seconds_total', 'process_resident_memory_bytes']) {
    assert.ok(m.body.includes(name), name);
  }
  assert.match(m.body, /route="\/users\/\{id\}"/);
  assert.match(m.body, /route="unmatched",status="404"/);
  const o = await noDb.inject('/openapi.json');
  const doc = o.json();
  assert.equal(doc.openapi, '3.1.0');
  for (const p of ['/users', '/users/{id}', '/api/v1/process', '/health/live', '/health/ready', '/metrics']) assert.ok(doc.paths[p], p);
});

const pg = await startPostgres();
after(() => pg.stop());
const withDb = await makeApp(pg.url);

test('users against PostgreSQL', async () => {
  const h = { authorization: `Bearer ${RW}`, 'content-type': 'application/json' };
  const tag = `${Date.now()}${Math.floor(Math.random() * 1e6)}`;
  const email = `Node.Test+${tag}@Example.com`;
  let res = await withDb.inject({ method: 'POST', url: '/users', headers: h, payload: { email: `  ${email} ` } });
  assert.equal(res.statusCode, 201, res.body);
  const user = res.json();
  assert.equal(user.email, email);
  assert.match(user.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(res.headers.location, `/users/${user.id}`);
  res = await withDb.inject({ method: 'POST', url: '/users', headers: h, payload: { email: email.toLowerCase(), id: user.id.toUpperCase() } });
  assert.equal(res.statusCode, 200);
  assert.deepEqual(res.json(), user);
  res = await withDb.inject({ method: 'POST', url: '/users', headers: h, payload: { email: `other${tag}@example.com`, id: user.id } });
  assertError(res, 409, 'User id exists with another email');
  res = await withDb.inject({ method: 'POST', url: '/users', headers: h, payload: { email: email.toUpperCase() } });
  assertError(res, 409, 'Email already taken');
  res = await withDb.inject({ url: `/users/${user.id.toUpperCase()}`, headers: h });
  assert.deepEqual(res.json(), user);
  res = await withDb.inject({ method: 'PATCH', url: `/users/${user.id}`, headers: h, payload: { email: email.toLowerCase() } });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().email, email.toLowerCase());
  assert.ok(res.json().updated_at >= user.updated_at);
  // pagination walks newest first without repeats
  const seen = new Set();
  let url = '/users?limit=2';
  for (let page = 0; page < 3; page++) {
    res = await withDb.inject({ url, headers: h });
    const { items, next } = res.json();
    for (const it of items) {
      assert.ok(!seen.has(it.id));
      seen.add(it.id);
    }
    if (next === null) break;
    url = `/users?limit=2&after=${next}`;
  }
  res = await withDb.inject({ method: 'DELETE', url: `/users/${user.id}`, headers: h });
  assert.equal(res.statusCode, 204);
  assert.equal(res.body, '');
  assertError(await withDb.inject({ method: 'DELETE', url: `/users/${user.id}`, headers: h }), 404, 'User not found');
  assertError(await withDb.inject({ url: `/users/${user.id}`, headers: h }), 404, 'User not found');
  res = await withDb.inject('/health/ready');
  assert.deepEqual(res.json(), { status: 'ready', checks: { database: 'ok', draining: false } });
});
