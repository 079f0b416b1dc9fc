// Bearer JWT authentication (docs/contract.md "Authentication" and the decisions):
// HS256 with JWT_SECRET only (alg none and every other algorithm are rejected), `exp`
// required, `nbf` checked when present, 30 s leeway. A configured `iss` or `aud` is
// required (a token that omits it is refused); an `aud` array is accepted when it
// contains the audience.
// Scopes come from the space-separated `scope` claim.
//
// Verified tokens are cached by their exact text (bounded, oldest out first, never past
// the token's `exp` plus the leeway), so a client re-sending the same token skips the
// HMAC and the JSON parse. Only successes are cached: a token that verified once stays
// valid until `exp` (its `nbf` has passed, its signature, `iss` and `aud` cannot change).
// fast-jwt's own cache is off: it hashes every token with SHA-256 to find it, which cost
// 3% of a point read's CPU (--cpu-prof, baselines/node/README.md "Tuning").
import { createVerifier } from 'fast-jwt';

const LEEWAY_MS = 30_000;
/** Verified tokens kept. */
const CACHE_SIZE = 4096;

/**
 * @param {{ jwtSecret: string, jwtIssuer?: string, jwtAudience?: string }} config
 * @returns {(authorization: string | undefined) => { kind: 'missing' } | { kind: 'invalid' } | { kind: 'ok', scope: string }}
 */
export function createAuthenticator(config) {
  const requiredClaims = ['exp'];
  if (config.jwtIssuer) requiredClaims.push('iss');
  if (config.jwtAudience) requiredClaims.push('aud');
  const verify = createVerifier({
    key: config.jwtSecret,
    algorithms: ['HS256'],
    requiredClaims,
    clockTolerance: LEEWAY_MS,
    allowedIss: config.jwtIssuer,
    allowedAud: config.jwtAudience,
    cache: false,
  });
  const MISSING = { kind: 'missing' };
  const INVALID = { kind: 'invalid' };
  /** token → { result, validUntilMs } */
  const verified = new Map();
  return function authenticate(authorization) {
    if (typeof authorization !== 'string') return MISSING;
    const space = authorization.indexOf(' ');
    if (space !== 6 || authorization.slice(0, 6).toLowerCase() !== 'bearer') return MISSING;
    const token = authorization.slice(7).trim();
    if (token.length === 0) return MISSING;
    const cached = verified.get(token);
    if (cached !== undefined) {
      if (Date.now() <= cached.validUntilMs) return cached.result;
      verified.delete(token);
    }
    let claims;
    try {
      claims = verify(token);
    } catch {
      return INVALID;
    }
    if (typeof claims.exp !== 'number') return INVALID;
    const result = { kind: 'ok', scope: typeof claims.scope === 'string' ? claims.scope : '' };
    if (verified.size >= CACHE_SIZE) verified.delete(verified.keys().next().value);
    verified.set(token, { result, validUntilMs: claims.exp * 1000 + LEEWAY_MS });
    return result;
  };
}

/** Whether a space-separated scope claim grants `wanted`. */
export function hasScope(scopeClaim, wanted) {
  if (scopeClaim === wanted) return true;
  const list = scopeClaim.split(' ');
  for (let i = 0; i < list.length; i++) if (list[i] === wanted) return true;
  return false;
}
