// Coalesced point reads and creates (src/coalesce.js, src/batches.js): each request of a
// batch gets its own answer. The batching itself is checked without a database; the
// answers against a real PostgreSQL (test/support/postgres.js: DATABASE_URL, else a
// throwaway cluster of the machine's server binaries).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import client from 'prom-client';
import { createSigner } from 'fast-jwt';
import { createAuthenticator } from '../src/auth.js';
import { createCoalescer } from '../src/coalesce.js';
import { createDb } from '../src/db.js';
import { createMetrics } from '../src/metrics.js';
import { buildApp } from '../src/server.js';
import { uuidv7 } from '../src/uuid.js';
import { startPostgres } from './support/postgres.js';

/** A coalescer whose batches settle only when the test says so. */
function heldCoalescer(inFlight) {
  const batches = [];
  const call = createCoalescer({
    inFlight,
    maxBatch: 3,
    deadlineMs: 60_000,
    run: (items) =>
      new Promise((resolve, reject) => {
        batches.push({ items, resolve, reject });
      }),
  });
  return { call, batches };
}

test('a lone call goes at once; calls behind busy slots go out together, each answered', async () => {
  const { call, batches } = heldCoalescer(1);
  const first = call('a');
  assert.deepEqual(batches.map((b) => b.items), [['a']], 'nothing waits for a timer');
  const queued = ['b', 'c', 'd', 'e'].map(call);
  const settled = Promise.allSettled(queued);
  assert.equal(batches.length, 1, 'the only slot is busy: the others queue');
  batches[0].resolve(['A']);
  assert.equal(await first, 'A');
  await new Promise(setImmediate);
  assert.deepEqual(batches.map((b) => b.items), [['a'], ['b', 'c', 'd']], 'at most maxBatch in one batch');
  // An Error as an answer fails that call only.
  batches[1].resolve(['B', new Error('c failed'), null]);
  await new Promise(setImmediate);
  assert.deepEqual(batches[2].items, ['e']);
  batches[2].reject(new Error('batch failed'));
  assert.deepEqual(
    (await settled).map((s) => (s.status === 'fulfilled' ? s.value : s.reason.message)),
    ['B', 'c failed', null, 'batch failed'],
  );
});

test('a call whose deadline passed while queued is a DB_TIMEOUT, not sent', async () => {
  const batches = [];
  const call = createCoalescer({
    inFlight: 1,
    maxBatch: 10,
    deadlineMs: 20,
    run: (items, ms) =>
      new Promise((resolve) => {
        batches.push({ items, ms, resolve });
      }),
  });
  const first = call('a');
  const late = call('b');
  await new Promise((r) => setTimeout(r, 40));
  batches[0].resolve(['A']);
  assert.equal(await first, 'A');
  await assert.rejects(late, (err) => err.code === 'DB_TIMEOUT');
  assert.equal(batches.length, 1, 'the expired call never reached the database');
  assert.ok(batches[0].ms > 0 && batches[0].ms <= 20, `a batch gets its oldest call's time left (${batches[0].ms})`);
});

const SECRET = 'node-test-secret-0123456789abcdef0123';
const TOKEN = createSigner({ key: SECRET, algorithm: 'HS256', expiresIn: 60_000 })({ sub: 't', scope: 'users:read users:write' });
const pg = await startPostgres();
after(() => pg.stop());

async function makeApp(coalesce) {
  // One connection: two batches in flight, everything else queues into the next batch.
  const config = { databaseUrl: pg.url, jwtSecret: SECRET, poolPerWorker: 1, coalesce, logLevel: 'silent' };
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
  return { app, db };
}

const { app, db } = await makeApp(true);
const auth = { authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };

async function createUsers(n) {
  const users = [];
  for (let i = 0; i < n; i++) {
    const res = await app.inject({ method: 'POST', url: '/users', headers: json, payload: { email: `mixed-${uuidv7()}@example.com` } });
    assert.equal(res.statusCode, 201, res.body);
    users.push(res.json());
  }
  return users;
}

test('coalesced reads: a batch mixing ids that exist and ids that do not answers each with its own row or null', async () => {
  const users = await createUsers(12);
  // Existing ids (one in capitals, one twice) interleaved with ids that do not exist.
  const asked = [];
  for (const [i, user] of users.entries()) {
    asked.push(i === 3 ? user.id.toUpperCase() : user.id, uuidv7());
  }
  asked.push(users[5].id);
  const before = { ...db.stats.batches.get_user };
  // All calls are made before any answer can arrive: two batches of one go out (the two
  // slots), and the rest queue into one batch.
  const rows = await Promise.all(asked.map((id) => db.getUser(id)));
  const after = db.stats.batches.get_user;
  assert.equal(after.items - before.items, asked.length);
  assert.equal(after.batches - before.batches, 3, 'two lone reads, then one batch of the rest');
  for (const [i, id] of asked.entries()) {
    const user = users.find((u) => u.id === id.toLowerCase());
    if (user === undefined) assert.equal(rows[i], null, `${id} does not exist`);
    else {
      assert.equal(rows[i].id, user.id, `${id}: its own row`);
      assert.equal(rows[i].email, user.email);
      assert.equal(rows[i].created_at.toISOString(), user.created_at);
    }
  }
});

test('coalesced reads over HTTP: each request gets its own 200 body or 404', async () => {
  const users = await createUsers(8);
  const asked = users.flatMap((u) => [u.id, uuidv7()]);
  const before = { ...db.stats.batches.get_user };
  const replies = await Promise.all(asked.map((id) => app.inject({ url: `/users/${id}`, headers: auth })));
  const after = db.stats.batches.get_user;
  assert.ok(after.items - before.items === asked.length && after.batches - before.batches < asked.length, 'some reads shared a statement');
  for (const [i, id] of asked.entries()) {
    const user = users.find((u) => u.id === id);
    if (user === undefined) {
      assert.equal(replies[i].statusCode, 404, replies[i].body);
      assert.equal(replies[i].json().error, 'User not found');
      assert.equal(replies[i].json().request_id, replies[i].headers['x-request-id']);
    } else {
      assert.equal(replies[i].statusCode, 200, replies[i].body);
      assert.deepEqual(replies[i].json(), user);
    }
  }
});

test('coalesced creates: one batch with a retry, a taken email and a taken id answers each as if alone', async () => {
  const [existing] = await createUsers(1);
  const fresh = uuidv7();
  const email = `batch-${fresh}@example.com`;
  const taken = `x-${email}`;
  const creates = [
    [uuidv7(), `free-${uuidv7()}@example.com`, 'created'],
    [fresh, email, 'created'],
    [fresh, email.toUpperCase(), 'existed'], // the same user again (a retry): 200
    [fresh, `other-${uuidv7()}@example.com`, 'idTaken'],
    [uuidv7(), existing.email.toUpperCase(), 'emailTaken'],
    [uuidv7(), taken, 'created'],
    [uuidv7(), taken, 'emailTaken'], // the batch's own earlier row took it
  ];
  const before = { ...db.stats.batches.create_user };
  // Two lone creates fill the two slots; the seven queue behind them into one batch.
  const fillers = [0, 1].map(() => db.createUser(uuidv7(), `filler-${uuidv7()}@example.com`));
  const outcomes = await Promise.all(creates.map(([id, address]) => db.createUser(id, address)));
  await Promise.all(fillers);
  const after = db.stats.batches.create_user;
  assert.equal(after.batches - before.batches, 3, 'two lone creates, then one batch of seven');
  assert.deepEqual(outcomes.map((o) => o.kind), creates.map((c) => c[2]));
  assert.deepEqual(outcomes[2].row, outcomes[1].row);
  for (const i of [0, 1, 5]) {
    assert.equal(outcomes[i].row.id, creates[i][0]);
    assert.equal(outcomes[i].row.email, creates[i][1]);
    const got = await app.inject({ url: `/users/${creates[i][0]}`, headers: auth });
    assert.equal(got.statusCode, 200);
    assert.equal(got.json().email, creates[i][1]);
  }
});

test('DB_COALESCE=false: one statement per request, the same answers', async () => {
  const { app: plain, db: plainDb } = await makeApp(false);
  const users = await createUsers(3);
  const asked = users.flatMap((u) => [u.id, uuidv7()]);
  const replies = await Promise.all(asked.map((id) => plain.inject({ url: `/users/${id}`, headers: auth })));
  assert.deepEqual(replies.map((r) => r.statusCode), [200, 404, 200, 404, 200, 404]);
  assert.deepEqual(plainDb.stats.batches.get_user, { batches: 0, items: 0 });
});
