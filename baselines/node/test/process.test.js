import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isStrictRfc3339, nearestRank, processRecords, recordError, renderResult, stats } from '../src/process.js';

const ok = () => ({
  user_id: '0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f',
  amount_cents: 500,
  currency: 'EUR',
  tags: ['a'],
  ts: '2024-02-29T12:00:00Z',
});
const sha = (s) => createHash('sha256').update(s).digest('hex');

test('timestamps: the strict RFC 3339 profile', () => {
  for (const ts of [
    '2024-02-29T00:00:00Z', '2023-12-31T23:59:59Z', '2000-02-29T12:00:00Z', '0000-01-01T00:00:00Z',
    '2024-01-01T00:00:00.1Z', '2024-01-01T00:00:00.123456789Z', '2024-01-01T00:00:00+23:59',
    '2024-01-01T00:00:00-00:00', '2024-04-30T10:00:00+05:30',
  ]) assert.equal(isStrictRfc3339(ts), true, ts);
  for (const ts of [
    '2024-02-30T00:00:00Z', '2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2024-04-31T00:00:00Z',
    '2024-00-10T00:00:00Z', '2024-13-10T00:00:00Z', '2024-01-00T00:00:00Z',
    '2024-01-01T24:00:00Z', '2024-01-01T23:60:00Z', '2024-12-31T23:59:60Z',
    '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:00+00:60', '2024-01-01t00:00:00Z',
    '2024-01-01T00:00:00z', '2024-01-01T00:00:00', '2024-01-01T00:00:00.Z',
    '2024-01-01T00:00:00.1234567890Z', '2024-01-01 00:00:00Z', '2024-1-01T00:00:00Z',
    '2024-01-01T00:00:00+0100', '2024-01-01T00:00Z', '２024-01-01T00:00:00Z', ' 2024-01-01T00:00:00Z',
    '2024-01-01T00:00:00Z\n', 20240101, null,
  ]) assert.equal(isStrictRfc3339(ts), false, String(ts));
});

test('record validation: first failing field, in order', () => {
  assert.equal(recordError(ok()), null);
  assert.equal(recordError(null), 'invalid record');
  assert.equal(recordError([]), 'invalid record');
  assert.equal(recordError('x'), 'invalid record');
  assert.equal(recordError({}), 'invalid user_id');
  assert.equal(recordError({ ...ok(), user_id: '0190C6A4-1F2B-7C3D-8E4F-5A6B7C8D9E0F' }), null);
  for (const user_id of ['{0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f}', '0190c6a41f2b7c3d8e4f5a6b7c8d9e0f', 'urn:uuid:0190c6a4-1f2b-7c3d-8e4f-5a6b7c8d9e0f', 5, null]) {
    assert.equal(recordError({ ...ok(), user_id, amount_cents: -1 }), 'invalid user_id');
  }
  for (const amount_cents of [5.0, 5e2, 0, -0, 1e9, 500.0000000000000001]) assert.equal(recordError({ ...ok(), amount_cents }), null, String(amount_cents));
  for (const amount_cents of [5.5, -1, 1e9 + 1, Infinity, NaN, '5', null, undefined, true]) {
    assert.equal(recordError({ ...ok(), amount_cents, currency: 'x' }), 'invalid amount_cents', String(amount_cents));
  }
  for (const currency of ['eur', 'EU', 'EURO', 'E1R', null, 1]) assert.equal(recordError({ ...ok(), currency, tags: 1 }), 'invalid currency');
  for (const tags of [null, 'a', ['A'], ['a b'], [''], ['x'.repeat(33)], [1], Array(9).fill('a'), {}]) {
    assert.equal(recordError({ ...ok(), tags, ts: 'x' }), 'invalid tags', JSON.stringify(tags));
  }
  for (const tags of [[], Array(8).fill('a'), ['x'.repeat(32), 'a_b-9', '__proto__']]) assert.equal(recordError({ ...ok(), tags }), null);
  assert.equal(recordError({ ...ok(), ts: '2023-02-29T00:00:00Z' }), 'invalid ts');
  const { ts, ...noTs } = ok();
  assert.equal(recordError(noTs), 'invalid ts');
});

test('nearest rank and stats', () => {
  const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.equal(nearestRank(sorted, 50), 5);
  assert.equal(nearestRank(sorted, 95), 10);
  assert.equal(nearestRank(Float64Array.from([7]), 99), 7);
  const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(nearestRank(hundred, 50), 50);
  assert.equal(nearestRank(hundred, 95), 95);
  assert.equal(nearestRank(hundred, 99), 99);
  assert.deepEqual(stats([10, 1, 2]), { count: 3, sum: 13, min: 1, max: 10, mean: 4, p50: 2, p95: 10, p99: 10 });
  // numeric, not lexicographic, ordering
  assert.deepEqual(stats([100, 9, 20]).p50, 20);
  // big sums stay exact
  const big = stats(Array(10_000).fill(1e9));
  assert.equal(big.sum, 1e13);
  assert.equal(big.mean, 1e9);
});

test('processRecords: counts, groups, invalid list, digest', () => {
  const recs = [
    { ...ok(), amount_cents: 300, currency: 'USD', tags: ['x', 'x', 'y'] },
    { ...ok(), amount_cents: 100, tags: ['10', '9'] },
    { ...ok(), amount_cents: 200, tags: [] },
    'junk',
    { ...ok(), ts: '2024-02-30T00:00:00Z' },
  ];
  const r = processRecords(recs);
  assert.equal(r.records, 5);
  assert.equal(r.valid, 3);
  assert.deepEqual(r.invalid, [{ index: 3, error: 'invalid record' }, { index: 4, error: 'invalid ts' }]);
  const body = renderResult(r);
  const parsed = JSON.parse(body);
  assert.deepEqual(Object.keys(parsed), ['records', 'valid', 'invalid', 'by_currency', 'by_tag', 'digest']);
  assert.deepEqual(parsed.by_currency.EUR, { count: 2, sum: 300, min: 100, max: 200, mean: 150, p50: 100, p95: 200, p99: 200 });
  assert.deepEqual(parsed.by_tag.x.count, 1); // once per distinct tag
  // byte order of keys, even for index-like tags ("10" < "9" < "x")
  assert.ok(body.indexOf('"10":') < body.indexOf('"9":') && body.indexOf('"9":') < body.indexOf('"x":'));
  const canonical =
    '{"by_currency":{"EUR":{"count":2,"max":200,"mean":150,"min":100,"p50":100,"p95":200,"p99":200,"sum":300},' +
    '"USD":{"count":1,"max":300,"mean":300,"min":300,"p50":300,"p95":300,"p99":300,"sum":300}},' +
    '"by_tag":{"10":{"count":1,"max":100,"mean":100,"min":100,"p50":100,"p95":100,"p99":100,"sum":100},' +
    '"9":{"count":1,"max":100,"mean":100,"min":100,"p50":100,"p95":100,"p99":100,"sum":100},' +
    '"x":{"count":1,"max":300,"mean":300,"min":300,"p50":300,"p95":300,"p99":300,"sum":300},' +
    '"y":{"count":1,"max":300,"mean":300,"min":300,"p50":300,"p95":300,"p99":300,"sum":300}}}';
  assert.equal(r.canonical, canonical);
  assert.equal(parsed.digest, sha(canonical));
});

test('no valid record: empty groups and the digest of the empty canonical form', () => {
  const r = processRecords([1, 2]);
  assert.equal(renderResult(r),
    `{"records":2,"valid":0,"invalid":[{"index":0,"error":"invalid record"},{"index":1,"error":"invalid record"}],"by_currency":{},"by_tag":{},"digest":"${sha('{"by_currency":{},"by_tag":{}}')}"}`);
});

test('invalid list is cut at 100 but counts stay whole', () => {
  const recs = Array.from({ length: 250 }, (_, i) => (i % 2 === 0 ? null : ok()));
  const r = processRecords(recs);
  assert.equal(r.invalid.length, 100);
  assert.equal(r.valid, 125);
  assert.equal(r.invalid[99].index, 198);
});

test('-0 counts as 0 and tags like __proto__ are plain keys', () => {
  const r = processRecords([{ ...ok(), amount_cents: -0, tags: ['__proto__', 'constructor'] }]);
  const body = renderResult(r);
  assert.match(body, /"__proto__":\{"count":1,"sum":0,"min":0/);
  assert.match(body, /"constructor":\{/);
});
