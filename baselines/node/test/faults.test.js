// Database faults with coalescing on (the shipped design), on a throwaway PostgreSQL of our
// own (test/support/postgres.js) that the tests kill, start again, stall and block: every
// request of a batch gets a 503 `Database unavailable` with Retry-After and no driver
// text, never a hang, and the service heals when the database is back.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import postgres from 'postgres';
import { createSigner } from 'fast-jwt';
import { createAuthenticator } from '../src/auth.js';
import { createDb } from '../src/db.js';
import { postgresTarget } from '../src/databaseUrl.js';
import { createMetrics } from '../src/metrics.js';
import { buildApp } from '../src/server.js';
import { uuidv7 } from '../src/uuid.js';
import { startPostgres } from './support/postgres.js';

const SECRET = 'node-test-secret-0123456789abcdef0123';
const TOKEN = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 600_000 })({ sub: 't', scope: 'users:read users:write' });
const auth = { authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };

const pg = await startPostgres({ throwaway: true });
after(() => pg.stop());
const target = postgresTarget(pg.url);

async function makeApp() {
  const config = { databaseUrl: pg.url, jwtSecret: SECRET, poolPerWorker: 1, coalesce: true, logLevel: 'silent' };
  const db = createDb(config);
  const app = await buildApp({
    config,
    db,
    authenticate: createAuthenticator(config),
    metrics: createMetrics({ db, registry: new client.Registry() }),
    logger: false,
  });
  after(async () => {
    await app.close();
    await db.close(1);
  });
  return app;
}

const app = await makeApp();

function assertUnavailable(res) {
  assert.equal(res.statusCode, 503, res.body);
  assert.equal(res.headers['retry-after'], '1');
  assert.deepEqual(res.json(), { error: 'Database unavailable', request_id: res.headers['x-request-id'] });
}

async function create(email, id) {
  return app.inject({ method: 'POST', url: '/users', headers: json, payload: id === undefined ? { email } : { email, id } });
}

/** Asks until the answer is 200 (the service heals by itself), at most 15 s. */
async function eventuallyOk(url) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await app.inject({ url, headers: auth });
    if (res.statusCode === 200 || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('database killed: every coalesced read and create is a 503; back, the service heals', async () => {
  const user = (await create(`killed-${uuidv7()}@example.com`)).json();
  await pg.kill();
  const reads = Array.from({ length: 12 }, (_, i) => app.inject({ url: `/users/${i % 2 ? user.id : uuidv7()}`, headers: auth }));
  const creates = Array.from({ length: 6 }, () => create(`dead-${uuidv7()}@example.com`));
  for (const res of await Promise.all([...reads, ...creates])) assertUnavailable(res);
  await pg.start();
  const res = await eventuallyOk(`/users/${user.id}`);
  assert.equal(res.statusCode, 200, res.body);
  assert.deepEqual(res.json(), user);
  assert.equal((await create(`back-${uuidv7()}@example.com`)).statusCode, 201);
});

test('database stalled: requests queued behind stuck batches are a 503 within the query deadline', async () => {
  const made = await create(`stalled-${uuidv7()}@example.com`);
  assert.equal(made.statusCode, 201, made.body);
  const user = made.json();
  pg.pause();
  try {
    const replies = await Promise.all(Array.from({ length: 10 }, () => app.inject({ url: `/users/${user.id}`, headers: auth })));
    for (const res of replies) assertUnavailable(res);
  } finally {
    pg.resume();
  }
  const res = await eventuallyOk(`/users/${user.id}`);
  assert.deepEqual(res.json(), user);
});

test('statement timeout: a create blocked past it is a 503, and so is nothing else once the block is gone', async () => {
  const admin = postgres(target.url, { ...target.options, max: 1, onnotice: () => {} });
  // New connections get the timeout; the blocked insert waits on the holder's row.
  await admin`ALTER DATABASE postgres SET statement_timeout = '300ms'`;
  after(async () => {
    await admin`ALTER DATABASE postgres RESET statement_timeout`;
    await admin.end({ timeout: 1 });
  });
  const timed = await makeApp();
  const blocked = `held-${uuidv7()}@example.com`;
  let release;
  const released = new Promise((resolve) => {
    release = resolve;
  });
  let holding;
  const held = new Promise((resolve) => {
    holding = resolve;
  });
  const holder = admin
    .begin(async (tx) => {
      await tx`INSERT INTO users (id, email) VALUES (${uuidv7()}, ${blocked})`;
      holding();
      await released;
      throw new Error('roll back');
    })
    .catch(() => {});
  await held;
  const emails = [blocked, ...Array.from({ length: 5 }, () => `free-${uuidv7()}@example.com`)];
  const replies = await Promise.all(
    emails.map((email) => timed.inject({ method: 'POST', url: '/users', headers: json, payload: { email } })),
  );
  assertUnavailable(replies[0]);
  for (const res of replies.slice(1)) {
    // A create that shared the blocked statement times out with it; the others go through.
    if (res.statusCode !== 201) assertUnavailable(res);
  }
  release();
  await holder;
  // Retried, each 503 creates its user: nothing was half done.
  for (const [i, res] of replies.entries()) {
    if (res.statusCode === 201) continue;
    const again = await timed.inject({ method: 'POST', url: '/users', headers: json, payload: { email: emails[i] } });
    assert.equal(again.statusCode, 201, again.body);
  }
});
