// UUIDs: the hyphenated form the contract accepts, and UUID v7 generation.
//
// v7 (RFC 9562): 48-bit Unix milliseconds, version 7, a 12-bit counter seeded at random
// each millisecond (so ids made by one process in the same millisecond still sort in
// creation order), variant 10, 62 random bits. Random bytes come from a pooled buffer
// filled by the CSPRNG, so a call costs no system call.
import { randomFillSync } from 'node:crypto';

const HYPHENATED = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** 8-4-4-4-12 hex digits, either case; nothing else (no braces, urn:, bare hex). */
export function isHyphenatedUuid(value) {
  return typeof value === 'string' && value.length === 36 && HYPHENATED.test(value);
}

const POOL_SIZE = 16 * 256;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

let lastMs = -1;
let counter = 0;

function random10() {
  if (poolOffset + 10 > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const off = poolOffset;
  poolOffset += 10;
  return off;
}

/** A fresh lowercase UUID v7. */
export function uuidv7() {
  const off = random10();
  let ms = Date.now();
  if (ms > lastMs) {
    lastMs = ms;
    counter = ((pool[off] & 0x07) << 8) | pool[off + 1]; // 11 bits: room to count up
  } else {
    counter += 1;
    if (counter > 0xfff) {
      lastMs += 1; // counter exhausted: borrow the next millisecond
      counter = 0;
    }
    ms = lastMs;
  }
  const hi = Math.floor(ms / 0x1000000); // top 24 bits of 48
  const lo = ms % 0x1000000; // low 24 bits
  return (
    HEX[(hi >>> 16) & 0xff] + HEX[(hi >>> 8) & 0xff] + HEX[hi & 0xff] +
    HEX[(lo >>> 16) & 0xff] + '-' + HEX[(lo >>> 8) & 0xff] + HEX[lo & 0xff] + '-' +
    HEX[0x70 | (counter >>> 8)] + HEX[counter & 0xff] + '-' +
    HEX[0x80 | (pool[off + 2] & 0x3f)] + HEX[pool[off + 3]] + '-' +
    HEX[pool[off + 4]] + HEX[pool[off + 5]] + HEX[pool[off + 6]] +
    HEX[pool[off + 7]] + HEX[pool[off + 8]] + HEX[pool[off + 9]]
  );
}
