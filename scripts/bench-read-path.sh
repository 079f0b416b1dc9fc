#!/usr/bin/env bash
# Not a lab (labs/) yet: a lab cannot hold idle keep-alive connections open beside the load,
# nor sweep a setting over several targets in one scenario.
# The hot read path, measured side by side in one run (issue: "twice the best Node, and
# past the database with a coherent cache"). On one throwaway PostgreSQL with N seeded
# users (default 1,000,000), alternating the targets so machine drift cancels:
#   1. GET /users/{random id}, closed model, 64 connections: Rust (cache off) vs Node,
#      and pgbench -S -M prepared with 64 clients (the database's own ceiling);
#   2. open model at half of Node's closed-model rate: p99 of each;
#   3. Rust with the cache on, hot set (10,000 ids) vs the same server's /health/live;
#   4. Rust's RSS with 100, then 10,000 idle keep-alive connections;
#   5. the pipelined connection count (read_connections 1, 2, 4).
# Results: out/bench-read-path/summary.md (and each run's ferry JSON beside it).
#
#   scripts/bench-read-path.sh [users] [seconds per run]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
users=${1:-1000000}
secs=${2:-15}
out=out/bench-read-path
mkdir -p "$out"
rm -f "$out"/*.json

cargo build -q --release -p user-service -p ferry
bin=target/release
ferry() { "$bin/ferry" "$@"; }

# A throwaway PostgreSQL, as the embedded harness would start it.
bench_start bench-read-path -c max_connections=300 -c shared_buffers=512MB
pgbin=$pg_bindir

echo "seeding $users users…" >&2
bench_seed_users "$users"
head -10000 "$work/ids.txt" > "$work/hot-ids.txt"
DATABASE_URL=$db "$bin/user-service" token --scope users:read > "$work/token"
psql -q "$db" -c "VACUUM ANALYZE users" >/dev/null
"$pgbin/pgbench" -q -i -s 10 "$db" >/dev/null 2>&1

rust_port=$(free_port); node_port=$(free_port)
start_rust() { # extra env as arguments
  env DATABASE_URL=$db PORT=$rust_port APP_LOG__FILTER=warn "$@" "$bin/user-service" serve >"$work/rust.log" 2>&1 &
  rust_pid=$!; pids+=("$rust_pid")
  wait_ready "$rust_port" "$rust_pid" "$work/rust.log"
}
stop_rust() { kill -TERM "$rust_pid"; wait "$rust_pid" 2>/dev/null || true; }
(cd baselines/node && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
DATABASE_URL=$db PORT=$node_port node baselines/node/src/main.js >"$work/node.log" 2>&1 &
node_pid=$!; pids+=("$node_pid")
wait_ready "$node_port" "$node_pid" "$work/node.log"
start_rust

get() { # name port [ferry options…]
  local name=$1 port=$2; shift 2
  ferry load -q --warmup 3s -d "${secs}s" --bearer-file "$work/token" --values "id=$work/ids.txt" \
    --json "$out/$name.json" "$@" "http://127.0.0.1:$port/users/{id}"
}
# Throughput counts successes only: a fast stream of errors is not throughput.
rps() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(round(t["successes"]/t["duration_s"]))' "$1"; }
p99() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["latency"]["corrected"]["p99_us"]/1000, 2))' "$1"; }
pgbench_tps() { "$pgbin/pgbench" -S -M prepared -c 64 -j 2 -T "$secs" "$db" 2>/dev/null | awk '/^tps/ {print int($3)}'; }

echo "closed model, 64 connections, alternating…" >&2
for round in 1 2; do
  get "rust-closed-$round" "$rust_port" -c 64
  get "node-closed-$round" "$node_port" -c 64
  echo "pgbench round $round: $(pgbench_tps | tee "$out/pgbench-$round.txt") tps" >&2
done
best() { for f in "$@"; do rps "$f"; done | sort -n | tail -1; }
rust_rps=$(best "$out"/rust-closed-*.json); node_rps=$(best "$out"/node-closed-*.json)
pg_tps=$(cat "$out"/pgbench-*.txt | sort -n | tail -1)

half=$((node_rps / 2))
echo "open model at $half/s (half of Node's best)…" >&2
get rust-open "$rust_port" -c 64 --rate "$half"
get node-open "$node_port" -c 64 --rate "$half"

stop_rust
echo "pipelined connection count…" >&2
declare -A by_conns
for conns in 1 2 4; do
  start_rust APP_DATABASE__READ_CONNECTIONS=$conns
  get "rust-conns-$conns" "$rust_port" -c 64
  by_conns[$conns]=$(rps "$out/rust-conns-$conns.json")
  stop_rust
done

echo "cache on, hot set…" >&2
start_rust APP_CACHE__ENABLED=true
for round in 1 2; do
  ferry load -q --warmup 3s -d "${secs}s" -c 64 --bearer-file "$work/token" --values "id=$work/hot-ids.txt" \
    --json "$out/rust-cache-hot-$round.json" "http://127.0.0.1:$rust_port/users/{id}"
  ferry load -q --warmup 3s -d "${secs}s" -c 64 --json "$out/rust-static-$round.json" "http://127.0.0.1:$rust_port/health/live"
done
cache_rps=$(best "$out"/rust-cache-hot-*.json); static_rps=$(best "$out"/rust-static-*.json)

echo "idle keep-alive connections…" >&2
rss_with() { python3 scripts/idle-rss.py "$rust_port" "$1" "$rust_pid"; } # connections → MiB
stop_rust
ulimit -n 65536 2>/dev/null || true
start_rust APP_SERVER__KEEP_ALIVE_SECS=60
rss_100=$(rss_with 100)
rss_10k=$(rss_with 10000)

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }
{
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores: \`scripts/bench-read-path.sh $users $secs\`"
  echo
  echo "| measurement | value | target |"
  echo "| --- | --- | --- |"
  echo "| GET by id, 64 conns: Rust (cache off) / Node | $rust_rps / $node_rps = **$(ratio "$rust_rps" "$node_rps")×** | ≥ 2.0× |"
  echo "| Rust / pgbench -S -M prepared (64 clients, $pg_tps tps) | **$(ratio "$rust_rps" "$pg_tps")** | ≥ 0.60 |"
  echo "| open model at $half/s: p99 Rust / Node | $(p99 "$out/rust-open.json") ms / $(p99 "$out/node-open.json") ms = **$(ratio "$(p99 "$out/rust-open.json")" "$(p99 "$out/node-open.json")")** | ≤ 0.50 |"
  echo "| cache on, hot set / same server's /health/live | $cache_rps / $static_rps = **$(ratio "$cache_rps" "$static_rps")** | ≥ 0.80 |"
  echo "| RSS with 10,000 idle keep-alive connections vs 100 | $rss_10k MiB vs $rss_100 MiB (+$(python3 -c "print(round($rss_10k-$rss_100,1))") MiB) | ≤ +64 MB |"
  echo "| pipelined read connections 1 / 2 / 4 | ${by_conns[1]} / ${by_conns[2]} / ${by_conns[4]} req/s | |"
} | tee "$out/summary.md"
