// Mints a token for local use, signed with JWT_SECRET (HS256):
//   npm run token -- --scope "users:read users:write" [--ttl 3600] [--sub someone]
// JWT_ISSUER / JWT_AUDIENCE, when set, go into `iss` / `aud`.
import { parseArgs } from 'node:util';
import { createSigner } from 'fast-jwt';

const { values } = parseArgs({
  options: {
    scope: { type: 'string', default: 'users:read users:write' },
    ttl: { type: 'string', default: '3600' },
    sub: { type: 'string', default: 'local-dev' },
  },
});
const secret = process.env.JWT_SECRET;
if (!secret) {
  process.stderr.write('JWT_SECRET is required\n');
  process.exit(2);
}
const ttl = Number(values.ttl);
if (!Number.isInteger(ttl) || ttl <= 0) {
  process.stderr.write('--ttl must be a positive number of seconds\n');
  process.exit(2);
}
const sign = createSigner({
  key: secret,
  algorithm: 'HS256',
  expiresIn: ttl * 1000,
  iss: process.env.JWT_ISSUER || undefined,
  aud: process.env.JWT_AUDIENCE || undefined,
});
process.stdout.write(`${sign({ sub: values.sub, scope: values.scope })}\n`);
