// Prometheus metrics (names fixed by docs/contract.md "Decisions ... Operations").
//
//   http_request_duration_seconds{method,route,status}  histogram; route is the template
//                                                       (`/users/{id}`), `unmatched` for 404s
//   http_requests_in_flight                             gauge
//   db_pool_connections                                 gauge: the connection budget of this
//                                                       worker (postgres.js opens them lazily
//                                                       and keeps them)
//   db_pool_idle_connections                            gauge: budget minus queries in flight,
//                                                       floored at 0 (postgres.js gives an idle
//                                                       connection to a query before pipelining)
//   db_pool_acquire_wait_seconds                        histogram: postgres.js has no checkout
//                                                       step, so nothing is ever observed here;
//                                                       the series exists for shared dashboards
//   db_batches_total{batch}, db_batch_items_total{batch}  counters of coalesced statements
//                                                       (batch `get_user`, `create_user`) and
//                                                       of the requests they carried; their
//                                                       ratio is the mean batch size
//   process_cpu_seconds_total, process_resident_memory_bytes, ...  prom-client defaults
//
// Each worker keeps its own registry (the global one). With node:cluster, GET /metrics on
// any worker asks the primary, which gathers every worker's registry with prom-client's
// AggregatorRegistry and sums them, so one scrape shows the whole service.
import client from 'prom-client';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export function createMetrics({ db, registry = client.register } = {}) {
  client.collectDefaultMetrics({ register: registry });

  const duration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route template and status',
    labelNames: ['method', 'route', 'status'],
    buckets: BUCKETS,
    registers: [registry],
  });

  let inFlight = 0;
  new client.Gauge({
    name: 'http_requests_in_flight',
    help: 'HTTP requests being served',
    registers: [registry],
    collect() {
      this.set(inFlight);
    },
  });

  new client.Gauge({
    name: 'db_pool_connections',
    help: 'Database connections this service may hold (postgres.js opens them on demand and keeps them)',
    registers: [registry],
    collect() {
      this.set(db ? db.stats.max : 0);
    },
  });

  new client.Gauge({
    name: 'db_pool_idle_connections',
    help: 'Database connections without a query in flight (approximation: budget minus queries in flight)',
    registers: [registry],
    collect() {
      this.set(db ? Math.max(0, db.stats.max - db.stats.inFlight) : 0);
    },
  });

  new client.Histogram({
    name: 'db_pool_acquire_wait_seconds',
    help: 'Time waiting for a database connection (postgres.js pipelines queries and has no checkout: stays empty)',
    buckets: BUCKETS,
    registers: [registry],
  });

  for (const [name, field, help] of [
    ['db_batches_total', 'batches', 'Coalesced statements sent (DB_COALESCE), by batch'],
    ['db_batch_items_total', 'items', 'Requests answered by coalesced statements, by batch'],
  ]) {
    new client.Counter({
      name,
      help,
      labelNames: ['batch'],
      registers: [registry],
      collect() {
        if (!db || !db.stats.batches) return;
        // db.js counts; the counter shows its totals (reset, then the absolute value).
        this.reset();
        for (const [batch, counts] of Object.entries(db.stats.batches)) this.labels(batch).inc(counts[field]);
      },
    });
  }

  // Children cached by label tuple: observe() with a label object hashes it every time.
  const children = new Map();
  function observe(method, route, status, seconds) {
    const key = `${method} ${route} ${status}`;
    let child = children.get(key);
    if (child === undefined) {
      child = duration.labels(method, route, String(status));
      children.set(key, child);
    }
    child.observe(seconds);
  }

  return {
    registry,
    contentType: registry.contentType,
    observe,
    requestStarted() {
      inFlight += 1;
    },
    requestEnded() {
      inFlight -= 1;
    },
    /** This process's metrics as text. */
    local: () => registry.metrics(),
  };
}

/** fastify's `/users/:id` → `/users/{id}`. */
export function routeTemplate(url) {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}
