import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeEmail, trimWhiteSpace } from '../src/email.js';
import { decodeCursor, encodeCursor } from '../src/cursor.js';
import { isHyphenatedUuid, uuidv7 } from '../src/uuid.js';
import { requestIdFor } from '../src/requestId.js';
import { isJsonContentType } from '../src/routes/body.js';
import { hasScope } from '../src/auth.js';
import { postgresTarget } from '../src/databaseUrl.js';

test('email grammar', () => {
  for (const e of ['a@b.co', "x!#$%&'*+/=?^_`{|}~-y@ex-ample.com", 'a.b.c@d.e', 'A@B.CO', `${'a'.repeat(64)}@b.co`, 'a@1.2']) {
    assert.equal(normalizeEmail(e), e, e);
  }
  assert.equal(normalizeEmail('  a@b.co \t\n'), 'a@b.co');
  assert.equal(normalizeEmail('\u00a0a@b.co\u3000'), 'a@b.co');
  for (const e of [
    '', ' ', 'a', 'a@b', '@b.co', 'a@', '.a@b.co', 'a.@b.co', 'a..b@b.co', 'a@-b.co', 'a@b-.co', 'a@b..co',
    'a@.b.co', 'a@b.co.', '"a"@b.co', 'a@[1.2.3.4]', 'a b@c.de', 'é@b.co', 'a@b.co\u00e9', 'a@@b.co', 'a@b@c.co',
    `${'a'.repeat(65)}@b.co`, `a@${'b'.repeat(64)}.co`, `a@${'b.'.repeat(130)}co`, 'a@b_c.co', '\ufeffa@b.co',
    5, null, undefined, ['a@b.co'],
  ]) assert.equal(normalizeEmail(e), null, JSON.stringify(e));
  // 254 chars is the limit
  const long = `a@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(60)}`;
  assert.equal(long.length, 254);
  assert.equal(normalizeEmail(long), long);
  assert.equal(normalizeEmail(long + 'e'), null);
  assert.equal(trimWhiteSpace('\u0085x\u0085'), 'x');
});

test('cursor round trip and strictness', () => {
  const d = new Date('2026-11-28T12:34:56.789Z');
  const id = '0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f';
  const c = encodeCursor(d, id);
  assert.equal(c, Buffer.from(`2026-11-28T12:34:56.789Z|${id}`).toString('base64url'));
  assert.ok(!c.includes('='));
  assert.deepEqual(decodeCursor(c), { createdAt: d, id });
  const enc = (s) => Buffer.from(s).toString('base64url');
  for (const bad of [
    '', 'xyz', `${c}=`, `${c}==`, c.replace(/.$/, '!'), enc(`2026-11-28T12:34:56Z|${id}`),
    enc(`2026-02-30T12:34:56.789Z|${id}`), enc(`2026-11-28T12:34:56.789Z|${id.toUpperCase()}`),
    enc(`2026-11-28T12:34:56.789Z|${id}|x`), enc('2026-11-28T12:34:56.789Z'), enc(`2026-11-28T12:34:56.789+00:00|${id}`),
    undefined, ['a'],
  ]) assert.equal(decodeCursor(bad), null, String(bad));
});

test('uuid: hyphenated form and v7', () => {
  assert.ok(isHyphenatedUuid('0190C6A4-1f2b-7c3d-8e4f-5a6b7c8d9e0f'));
  for (const bad of ['{0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f}', 'urn:uuid:0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f', '0190c6a41f2b7c3d8e4f5a6b7c8d9e0f', '0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f0', 'g190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f']) {
    assert.equal(isHyphenatedUuid(bad), false, bad);
  }
  const ids = Array.from({ length: 5000 }, uuidv7);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual([...ids].sort(), ids, 'v7 ids of one process sort in creation order');
  assert.equal(new Set(ids).size, ids.length);
  const ms = parseInt(ids[0].replace(/-/g, '').slice(0, 12), 16);
  assert.ok(Math.abs(ms - Date.now()) < 5_000);
});

test('request id: keep valid incoming, else fresh v7', () => {
  assert.equal(requestIdFor({ headers: { 'x-request-id': 'abc.DEF_1-2' } }), 'abc.DEF_1-2');
  assert.equal(requestIdFor({ headers: { 'x-request-id': 'a'.repeat(64) } }), 'a'.repeat(64));
  for (const bad of ['a'.repeat(65), 'a b', '', 'ü', undefined, ['a', 'b']]) {
    assert.match(requestIdFor({ headers: { 'x-request-id': bad } }), /^[0-9a-f-]{36}$/);
  }
});

test('content type and scopes', () => {
  for (const t of ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json ;x=y']) assert.ok(isJsonContentType(t), t);
  for (const t of [undefined, '', 'text/plain', 'application/jsonx', 'application/json-patch+json', 'application/x-json']) assert.ok(!isJsonContentType(t), t);
  assert.ok(hasScope('users:read users:write', 'users:write'));
  assert.ok(hasScope('users:read', 'users:read'));
  assert.ok(!hasScope('users:readx', 'users:read'));
  assert.ok(!hasScope('', 'users:read'));
});

test('a Unix socket in the DATABASE_URL query becomes postgres.js options', () => {
  assert.deepEqual(postgresTarget('postgres:///app?host=%2Ftmp%2Fpg%20x&port=5999&user=postgres&sslmode=disable'), {
    url: 'postgres:///app?sslmode=disable',
    options: { host: '/tmp/pg x', port: 5999, user: 'postgres' },
  });
  const tcp = 'postgres://u:p@db.example:5432/app?sslmode=require';
  assert.deepEqual(postgresTarget(tcp), { url: tcp, options: {} });
});
