// One service process: builds the app, listens, and drains on SIGTERM/SIGINT.
//
// Drain: readiness turns 503 (`Draining`) at once; the listener closes; idle keep-alive
// connections are closed; requests in flight finish and their responses carry
// `Connection: close`; then the database connections close and the process exits 0.
// If that takes longer than DRAIN_TIMEOUT_SECS the process exits 1.
import cluster from 'node:cluster';
import client from 'prom-client';
import { createAuthenticator } from './auth.js';
import { createDb } from './db.js';
import { createMetrics } from './metrics.js';
import { buildApp } from './server.js';
import { setBodyBudgetWorkers } from './routes/body.js';

/** Asks the primary for the metrics of every worker, summed (see metrics.js). */
function clusterMetricsText(local) {
  let next = 0;
  const pending = new Map();
  process.on('message', (msg) => {
    if (msg && msg.type === 'us:metrics-res') {
      const p = pending.get(msg.id);
      if (p) {
        pending.delete(msg.id);
        clearTimeout(p.timer);
        if (typeof msg.text === 'string') p.resolve(msg.text);
        else p.resolve(local()); // aggregation failed: this worker's own numbers
      }
    }
  });
  return () =>
    new Promise((resolve) => {
      const id = next++;
      const timer = setTimeout(() => {
        pending.delete(id);
        resolve(local());
      }, 6_000);
      pending.set(id, { resolve, timer });
      process.send({ type: 'us:metrics-req', id });
    });
}

/** @param {ReturnType<import('./config.js').loadConfig>} config */
export async function startWorker(config) {
  const state = { draining: false };
  if (cluster.isWorker) setBodyBudgetWorkers(config.workers);
  const db = createDb(config);
  const metrics = createMetrics({ db });
  let metricsText;
  if (cluster.isWorker) {
    new client.AggregatorRegistry(); // answers the primary's requests for this registry
    metricsText = clusterMetricsText(metrics.local);
  }
  const app = await buildApp({
    config,
    db,
    authenticate: createAuthenticator(config),
    metrics,
    metricsText,
    state,
  });

  let draining = null;
  function drain(signal) {
    if (draining) return draining;
    state.draining = true;
    app.log.info({ signal }, 'draining');
    const deadline = setTimeout(() => {
      app.log.error({ timeoutSecs: config.drainTimeoutSecs }, 'drain timed out');
      process.exit(1);
    }, config.drainTimeoutSecs * 1000);
    deadline.unref();
    draining = app
      .close() // stops listening, closes idle connections, waits for the rest
      .then(() => db.close(5))
      .then(
        () => {
          app.log.info('drained');
          process.exit(0);
        },
        (err) => {
          app.log.error({ err }, 'drain failed');
          process.exit(1);
        },
      );
    return draining;
  }
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
  if (cluster.isWorker) {
    // The primary may also ask over IPC (e.g. when it cannot signal).
    process.on('message', (msg) => {
      if (msg && msg.type === 'us:drain') drain('primary');
    });
  }

  await app.listen({ host: config.host, port: config.port });
  return { app, db, state, drain };
}
