// Bearer JWT authentication (docs/contract.md "Authentication" and the decisions):
// HS256 with JWT_SECRET only (alg none and every other algorithm are rejected), `exp`
// required, `nbf` checked when present, 30 s leeway. A configured `iss` or `aud` is
// required (a token that omits it is refused); an `aud` array is accepted when it
// contains the audience.
// Scopes come from the space-separated `scope` claim.
//
// fast-jwt keeps a small LRU of verified tokens (bounded, and never past a token's
// `exp`), so a client re-sending the same token skips the HMAC and the JSON parse.
import { createVerifier } from 'fast-jwt';

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
    clockTolerance: 30_000, // ms
    allowedIss: config.jwtIssuer,
    allowedAud: config.jwtAudience,
    cache: 4096,
  });
  const MISSING = { kind: 'missing' };
  const INVALID = { kind: 'invalid' };
  return function authenticate(authorization) {
    if (typeof authorization !== 'string') return MISSING;
    const space = authorization.indexOf(' ');
    if (space !== 6 || authorization.slice(0, 6).toLowerCase() !== 'bearer') return MISSING;
    const token = authorization.slice(7).trim();
    if (token.length === 0) return MISSING;
    let claims;
    try {
      claims = verify(token);
    } catch {
      return INVALID;
    }
    if (typeof claims.exp !== 'number') return INVALID;
    return { kind: 'ok', scope: typeof claims.scope === 'string' ? claims.scope : '' };
  };
}

/** Whether a space-separated scope claim grants `wanted`. */
export function hasScope(scopeClaim, wanted) {
  if (scopeClaim === wanted) return true;
  const list = scopeClaim.split(' ');
  for (let i = 0; i < list.length; i++) if (list[i] === wanted) return true;
  return false;
}
