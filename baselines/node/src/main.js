// Entry point (`npm start`): a node:cluster primary that forks WORKERS service processes
// (worker.js), each with max(1, floor(DB_POOL_SIZE / WORKERS)) database connections.
// Connections are shared by the primary round-robin (cluster's default on Linux).
//
// The primary:
//   - restarts a worker that dies unexpectedly (after 1 s);
//   - answers workers' requests for cluster-wide metrics (prom-client AggregatorRegistry);
//   - on SIGTERM/SIGINT forwards SIGTERM to every worker, waits for them to drain, and
//     exits 0 when all of them exited 0 (1 otherwise, or after DRAIN_TIMEOUT_SECS + 5 s).
//
// `WORKERS=0` is not accepted; to run a single process without cluster use
// `node src/main.js --single` (used by the tests and handy with a profiler).
import cluster from 'node:cluster';
import client from 'prom-client';
import { ConfigError, loadConfig } from './config.js';
import { startWorker } from './worker.js';

function fail(message) {
  process.stderr.write(`user-service-node: ${message}\n`);
  process.exit(2);
}

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (err instanceof ConfigError) fail(`invalid configuration: ${err.message}`);
  throw err;
}

function log(level, msg, extra = {}) {
  process.stdout.write(`${JSON.stringify({ level, time: Date.now(), pid: process.pid, role: 'primary', msg, ...extra })}\n`);
}

if (process.argv.includes('--single') || !cluster.isPrimary) {
  startWorker(config).catch((err) => {
    process.stderr.write(`user-service-node: cannot start: ${err.stack || err}\n`);
    process.exit(1);
  });
} else {
  const aggregator = new client.AggregatorRegistry();
  let shuttingDown = false;
  let failures = 0;
  const started = new Set();

  const fork = () => {
    const worker = cluster.fork();
    worker.on('listening', () => {
      started.add(worker.id);
      if (started.size === config.workers && !shuttingDown) {
        log(30, 'listening', { url: `http://${config.host}:${config.port}`, workers: config.workers, poolPerWorker: config.poolPerWorker });
      }
    });
    worker.on('message', (msg) => {
      if (msg && msg.type === 'us:metrics-req') {
        aggregator.clusterMetrics().then(
          (text) => worker.isConnected() && worker.send({ type: 'us:metrics-res', id: msg.id, text }),
          () => worker.isConnected() && worker.send({ type: 'us:metrics-res', id: msg.id, text: null }),
        );
      }
    });
    return worker;
  };

  cluster.on('exit', (worker, code, signal) => {
    if (shuttingDown) {
      if (code !== 0) failures += 1;
      if (Object.keys(cluster.workers).length === 0) {
        log(30, 'all workers drained', { failures });
        process.exit(failures === 0 ? 0 : 1);
      }
      return;
    }
    if (!started.has(worker.id)) {
      // It never listened: a start-up failure (port taken, bad config). Do not loop.
      log(50, 'worker failed to start; stopping', { code, signal });
      shuttingDown = true;
      failures += 1;
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
      if (Object.keys(cluster.workers).length === 0) process.exit(1);
      return;
    }
    log(40, 'worker died; restarting', { code, signal });
    setTimeout(() => !shuttingDown && fork(), 1_000);
  });

  const shutdown = (signal) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log(30, 'shutting down', { signal });
    for (const w of Object.values(cluster.workers)) w.process.kill('SIGTERM');
    if (Object.keys(cluster.workers).length === 0) process.exit(0);
    setTimeout(() => {
      log(50, 'workers did not drain in time; killing them');
      for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
      process.exit(1);
    }, (config.drainTimeoutSecs + 5) * 1000).unref();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  for (let i = 0; i < config.workers; i++) fork();
}
