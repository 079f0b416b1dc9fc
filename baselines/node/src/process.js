// The CPU-bound batch transformation of `POST /api/v1/process` (docs/contract.md), pure:
// no I/O, no framework. The route (routes/process.js) parses, bounds and sheds load.
//
// Output is rendered by hand, not by JSON.stringify on objects: a tag such as "10" is an
// array-index-like key that a JS object would move before "9", and the contract needs
// keys in byte order (and the canonical digest form needs them too).
import { createHash } from 'node:crypto';
import { isHyphenatedUuid } from './uuid.js';

export const MAX_RECORDS = 10_000;
export const MAX_INVALID_LISTED = 100;
export const MAX_AMOUNT = 1_000_000_000;

const CURRENCY = /^[A-Z]{3}$/;
const TAG = /^[a-z0-9_-]{1,32}$/;
// YYYY-MM-DDTHH:MM:SS[.1-9 digits](Z|±HH:MM); capital T and Z; ASCII digits only.
const TS = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;
const DAYS = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function isLeapYear(y) {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** RFC 3339 date-time in the contract's strict profile (real dates, no leap second). */
export function isStrictRfc3339(value) {
  if (typeof value !== 'string') return false;
  const m = TS.exec(value);
  if (m === null) return false;
  const year = +m[1];
  const month = +m[2];
  const day = +m[3];
  if (month < 1 || month > 12 || day < 1) return false;
  const dim = month === 2 && isLeapYear(year) ? 29 : DAYS[month];
  if (day > dim) return false;
  if (+m[4] > 23 || +m[5] > 59 || +m[6] > 59) return false;
  if (m[7] !== undefined && (+m[7] > 23 || +m[8] > 59)) return false;
  return true;
}

function isValidAmount(v) {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_AMOUNT;
}

function isValidTags(tags) {
  if (!Array.isArray(tags) || tags.length > 8) return false;
  for (let i = 0; i < tags.length; i++) {
    const t = tags[i];
    if (typeof t !== 'string' || !TAG.test(t)) return false;
  }
  return true;
}

/**
 * The first failing check of a record, in the contract's order, or null when valid.
 * @param {unknown} r
 */
export function recordError(r) {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return 'invalid record';
  if (!isHyphenatedUuid(r.user_id)) return 'invalid user_id';
  if (!isValidAmount(r.amount_cents)) return 'invalid amount_cents';
  if (typeof r.currency !== 'string' || !CURRENCY.test(r.currency)) return 'invalid currency';
  if (!isValidTags(r.tags)) return 'invalid tags';
  if (!isStrictRfc3339(r.ts)) return 'invalid ts';
  return null;
}

/**
 * @typedef {{count:number,sum:number,min:number,max:number,mean:number,p50:number,p95:number,p99:number}} Stats
 */

/** Nearest rank: the ((q*count + 99) div 100)-th smallest, counting from 1. */
export function nearestRank(sorted, q) {
  const rank = Math.floor((q * sorted.length + 99) / 100);
  return sorted[rank - 1];
}

/** floor(sum / count) for non-negative integers, exact even where the division rounds. */
function floorDiv(sum, count) {
  let q = Math.floor(sum / count);
  while (q * count > sum) q -= 1;
  while ((q + 1) * count <= sum) q += 1;
  return q;
}

/**
 * @param {number[]} amounts whole numbers, not empty
 * @returns {Stats}
 */
export function stats(amounts) {
  const sorted = Float64Array.from(amounts).sort();
  const count = sorted.length;
  let sum = 0;
  for (let i = 0; i < count; i++) sum += sorted[i];
  return {
    count,
    sum,
    min: sorted[0],
    max: sorted[count - 1],
    mean: floorDiv(sum, count),
    p50: nearestRank(sorted, 50),
    p95: nearestRank(sorted, 95),
    p99: nearestRank(sorted, 99),
  };
}

// Integers up to 1e13 print without exponent or fraction; -0 prints as 0.
const int = (n) => String(n);

function statsCanonical(s) {
  return `{"count":${int(s.count)},"max":${int(s.max)},"mean":${int(s.mean)},"min":${int(s.min)},"p50":${int(s.p50)},"p95":${int(s.p95)},"p99":${int(s.p99)},"sum":${int(s.sum)}}`;
}

function statsResponse(s) {
  return `{"count":${int(s.count)},"sum":${int(s.sum)},"min":${int(s.min)},"max":${int(s.max)},"mean":${int(s.mean)},"p50":${int(s.p50)},"p95":${int(s.p95)},"p99":${int(s.p99)}}`;
}

// Keys are ASCII (currency codes, tags of [a-z0-9_-]): no escaping needed.
function objectOf(entries, render) {
  let out = '{';
  for (let i = 0; i < entries.length; i++) {
    if (i > 0) out += ',';
    out += `"${entries[i][0]}":${render(entries[i][1])}`;
  }
  return out + '}';
}

function sortedStats(groups) {
  const keys = [...groups.keys()].sort(); // code-unit order = byte order for ASCII
  return keys.map((k) => [k, stats(groups.get(k))]);
}

function push(groups, key, amount) {
  const list = groups.get(key);
  if (list === undefined) groups.set(key, [amount]);
  else list.push(amount);
}

/**
 * @param {unknown[]} records 1..MAX_RECORDS elements (the route checks the bounds)
 */
export function processRecords(records) {
  const invalid = [];
  let invalidCount = 0;
  // Maps, not objects: a tag may be "__proto__" or "constructor".
  const byCurrency = new Map();
  const byTag = new Map();
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const error = recordError(r);
    if (error !== null) {
      invalidCount += 1;
      if (invalid.length < MAX_INVALID_LISTED) invalid.push({ index: i, error });
      continue;
    }
    const amount = r.amount_cents + 0; // -0 becomes 0
    push(byCurrency, r.currency, amount);
    const tags = r.tags;
    for (let t = 0; t < tags.length; t++) {
      const tag = tags[t];
      let seen = false;
      for (let u = 0; u < t; u++) {
        if (tags[u] === tag) {
          seen = true;
          break;
        }
      }
      if (!seen) push(byTag, tag, amount);
    }
  }
  const currencies = sortedStats(byCurrency);
  const tags = sortedStats(byTag);
  const canonical = `{"by_currency":${objectOf(currencies, statsCanonical)},"by_tag":${objectOf(tags, statsCanonical)}}`;
  const digest = createHash('sha256').update(canonical).digest('hex');
  return {
    records: records.length,
    valid: records.length - invalidCount,
    invalid,
    byCurrency: currencies,
    byTag: tags,
    canonical,
    digest,
  };
}

/** The 200 body, keys in the contract's order. */
export function renderResult(result) {
  let invalid = '[';
  for (let i = 0; i < result.invalid.length; i++) {
    if (i > 0) invalid += ',';
    invalid += `{"index":${result.invalid[i].index},"error":"${result.invalid[i].error}"}`;
  }
  invalid += ']';
  return (
    `{"records":${result.records},"valid":${result.valid},"invalid":${invalid},` +
    `"by_currency":${objectOf(result.byCurrency, statsResponse)},` +
    `"by_tag":${objectOf(result.byTag, statsResponse)},"digest":"${result.digest}"}`
  );
}
