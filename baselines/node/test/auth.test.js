// Authentication holes a review found: a configured iss/aud that a token may omit, an
// aud array, and a short HS256 secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSigner } from 'fast-jwt';
import { createAuthenticator } from '../src/auth.js';
import { loadConfig, ConfigError } from '../src/config.js';

const SECRET = 'node-auth-test-secret-0123456789abcdef';
const sign = createSigner({ key: SECRET, algorithm: 'HS256' });
const exp = () => Math.floor(Date.now() / 1000) + 60;
const bearer = (claims) => `Bearer ${sign({ sub: 'a', exp: exp(), scope: 'users:read', ...claims })}`;

test('a configured issuer is required', () => {
  const authenticate = createAuthenticator({ jwtSecret: SECRET, jwtIssuer: 'https://auth.example.com' });
  assert.equal(authenticate(bearer({})).kind, 'invalid', 'no iss');
  assert.equal(authenticate(bearer({ iss: 'https://evil.example.com' })).kind, 'invalid');
  assert.equal(authenticate(bearer({ iss: 'https://auth.example.com' })).kind, 'ok');
});

test('a configured audience is required and may be one of an array', () => {
  const authenticate = createAuthenticator({ jwtSecret: SECRET, jwtAudience: 'user-service' });
  assert.equal(authenticate(bearer({})).kind, 'invalid', 'no aud');
  assert.equal(authenticate(bearer({ aud: 'other' })).kind, 'invalid');
  assert.equal(authenticate(bearer({ aud: 'user-service' })).kind, 'ok');
  assert.equal(authenticate(bearer({ aud: ['billing', 'user-service'] })).kind, 'ok');
  assert.equal(authenticate(bearer({ aud: ['billing', 'search'] })).kind, 'invalid');
});

test('JWT_SECRET shorter than 32 bytes stops start-up naming the variable', () => {
  const env = { DATABASE_URL: 'postgres://u@127.0.0.1/db' };
  assert.throws(() => loadConfig({ ...env, JWT_SECRET: 'short' }), (error) => error instanceof ConfigError && /JWT_SECRET/.test(error.message));
  assert.throws(() => loadConfig({ ...env, JWT_SECRET: 'x'.repeat(31) }), ConfigError);
  assert.equal(loadConfig({ ...env, JWT_SECRET: 'x'.repeat(32) }).jwtSecret, 'x'.repeat(32));
});

test('a cached token is refused once past exp and the leeway', async () => {
  const authenticate = createAuthenticator({ jwtSecret: SECRET });
  // Valid for about one more second: exp 29 s ago, leeway 30 s.
  const token = bearer({ exp: Math.floor(Date.now() / 1000) - 29 });
  assert.equal(authenticate(token).kind, 'ok');
  assert.equal(authenticate(token).kind, 'ok', 'from the cache');
  await new Promise((r) => setTimeout(r, 2_100));
  assert.equal(authenticate(token).kind, 'invalid', 'the cache never outlives exp + leeway');
});
