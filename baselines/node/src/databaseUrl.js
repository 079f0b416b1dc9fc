// DATABASE_URL as postgres.js takes it. libpq, SQLx and tokio-postgres read a Unix socket
// from the URL's query, `postgres:///db?host=/socket/dir&port=5432&user=postgres` (the
// form of the embedded PostgreSQL, which listens on no TCP address). postgres.js reads
// host, port and user only from the authority, and would send the query's `host` and
// `port` to the server as settings, which it refuses; so those three move from the
// query to postgres.js's options. Any other URL passes through unchanged.

const MOVED = ['host', 'port', 'user'];

/**
 * @param {string} databaseUrl
 * @returns {{ url: string, options: { host?: string, port?: number, user?: string } }}
 */
export function postgresTarget(databaseUrl) {
  const url = new URL(databaseUrl);
  const options = {};
  for (const key of MOVED) {
    const value = url.searchParams.get(key);
    if (value === null) continue;
    options[key] = key === 'port' ? Number(value) : value;
    url.searchParams.delete(key);
  }
  if (Object.keys(options).length === 0) return { url: databaseUrl, options };
  return { url: url.href, options };
}
