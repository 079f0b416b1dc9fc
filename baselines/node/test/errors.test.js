// "Database unavailable" means what it means in the Rust service (crates/kit/src/db/unavailable.rs).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDatabaseUnavailable } from '../src/errors.js';

test('the SQLSTATEs of a server that cannot answer now are unavailability', () => {
  for (const code of ['08000', '08006', '08P01', '57P01', '57P03', '53300', '57014', 'DB_TIMEOUT', 'ECONNRESET']) {
    assert.equal(isDatabaseUnavailable({ code }), true, code);
  }
  for (const code of ['23505', '42601', '42703', '53200', '40001', '22P02']) {
    assert.equal(isDatabaseUnavailable({ code }), false, code);
  }
});
