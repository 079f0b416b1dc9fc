// A PostgreSQL for the tests that need one: DATABASE_URL when it is set (a migrated
// database), else a throwaway cluster of the machine's own server binaries, as the Rust
// tests get from crates/pg-embedded: initdb into a temporary folder, no TCP (a Unix socket
// in that folder only), fsync off, the user-service's crates/user-service/migrations/
// applied, removed at the end.
// PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` user.
//
// Without server binaries the tests that need a database fail, saying what to install:
// a skipped test would pass without having tested anything.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';
import { postgresTarget } from '../../src/databaseUrl.js';

const MIGRATIONS = fileURLToPath(new URL('../../../../crates/user-service/migrations/', import.meta.url));
const FIX = 'install the PostgreSQL server (`apt-get install -y postgresql`; scripts/setup.sh does it) or set DATABASE_URL';

function hasServer(dir) {
  return fs.existsSync(path.join(dir, 'postgres')) && fs.existsSync(path.join(dir, 'initdb'));
}

/** $PG_BINDIR, `pg_config --bindir`, or the newest /usr/lib/postgresql/N/bin. */
function serverBinaries() {
  const candidates = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  try {
    candidates.push(execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim());
  } catch {
    // no pg_config: look where Debian puts the server
  }
  try {
    const versions = fs.readdirSync('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v));
    versions.sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(`/usr/lib/postgresql/${v}/bin`);
  } catch {
    // no Debian layout
  }
  const found = candidates.find(hasServer);
  if (found === undefined) throw new Error(`no PostgreSQL server binaries (postgres, initdb) found: ${FIX}`);
  return found;
}

/** uid and gid to run the server as: ours, or `postgres`'s when we are root. */
function serverUser() {
  if (process.getuid() !== 0) return {};
  const field = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  try {
    return { uid: field('-u'), gid: field('-g') };
  } catch {
    throw new Error('running as root, and there is no `postgres` user to run PostgreSQL as');
  }
}

async function waitForServer(url, server, logPath) {
  const target = postgresTarget(url);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null) throw new Error(`postgres exited (${server.exitCode}): ${fs.readFileSync(logPath, 'utf8')}`);
    const sql = postgres(target.url, { ...target.options, max: 1, connect_timeout: 1, onnotice: () => {} });
    try {
      await sql`SELECT 1`;
      return sql;
    } catch (err) {
      await sql.end({ timeout: 0 });
      if (Date.now() > deadline) throw new Error(`postgres was not ready within 30 s (${err.message}): ${fs.readFileSync(logPath, 'utf8')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function migrate(sql) {
  for (const file of fs.readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).sort()) {
    await sql.unsafe(fs.readFileSync(path.join(MIGRATIONS, file), 'utf8')).simple();
  }
}

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid) {
  const children = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return children;
}

/** Starts the server of `data` in its own process group (apart from the test's signals). */
function launch(bin, data, dir, port, user) {
  const logPath = path.join(dir, 'postgres.log');
  const log = fs.openSync(logPath, 'a');
  if (user.uid !== undefined) fs.fchownSync(log, user.uid, user.gid);
  const server = spawn(
    path.join(bin, 'postgres'),
    ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=', '-c', 'fsync=off', '-c', 'full_page_writes=off'],
    { ...user, stdio: ['ignore', log, log], detached: true },
  );
  fs.closeSync(log);
  return { server, logPath };
}

function exited(server) {
  return server.exitCode !== null || server.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => server.once('exit', resolve));
}

/**
 * DATABASE_URL's database, or (always with `throwaway`) a cluster of our own, which the
 * fault tests may kill, start again, pause and resume.
 * @param {{ throwaway?: boolean }} [options]
 * @returns {Promise<{ url: string, stop: () => Promise<void>, kill?: () => Promise<void>,
 *   start?: () => Promise<void>, pause?: () => void, resume?: () => void }>}
 */
export async function startPostgres({ throwaway = false } = {}) {
  if (process.env.DATABASE_URL && !throwaway) return { url: process.env.DATABASE_URL, stop: async () => {} };
  const bin = serverBinaries();
  const user = serverUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'node-baseline-pg-'));
  const remove = () => fs.rmSync(dir, { recursive: true, force: true });
  let current = null;
  // The server and its backends: each backend makes itself a process group leader
  // (setsid), so a signal to the server's group would miss them.
  const signalGroup = (signal) => {
    for (const pid of [current.server.pid, ...childrenOf(current.server.pid)]) {
      try {
        process.kill(pid, signal);
      } catch {
        // already gone
      }
    }
  };
  const killOnExit = () => current !== null && signalGroup('SIGKILL');
  process.on('exit', killOnExit);
  try {
    if (user.uid !== undefined) fs.chownSync(dir, user.uid, user.gid);
    const data = path.join(dir, 'data');
    execFileSync(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], {
      ...user,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // The port only names the socket file; nothing listens on TCP.
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const url = `postgres:///postgres?host=${encodeURIComponent(dir)}&port=${port}&user=postgres`;
    const start = async () => {
      current = launch(bin, data, dir, port, user);
      const sql = await waitForServer(url, current.server, current.logPath);
      await sql.end({ timeout: 1 });
    };
    await start();
    const admin = postgres(postgresTarget(url).url, { ...postgresTarget(url).options, max: 1, onnotice: () => {} });
    try {
      await migrate(admin);
    } finally {
      await admin.end({ timeout: 1 });
    }
    return {
      url,
      async stop() {
        process.off('exit', killOnExit);
        if (current.server.exitCode === null) {
          signalGroup('SIGCONT');
          current.server.kill('SIGINT'); // fast shutdown
          await exited(current.server);
        }
        remove();
      },
      /** SIGKILL to the server and its backends: the database dies. */
      async kill() {
        signalGroup('SIGKILL');
        await exited(current.server);
      },
      /** The killed server again, on the same data and socket. */
      start,
      /** SIGSTOP / SIGCONT: a database that accepts but does not answer. */
      pause: () => signalGroup('SIGSTOP'),
      resume: () => signalGroup('SIGCONT'),
    };
  } catch (err) {
    if (current !== null) signalGroup('SIGKILL');
    process.off('exit', killOnExit);
    remove();
    throw err;
  }
}
