#!/usr/bin/env bash
# Not a lab (labs/) yet: a lab cannot run busy loops competing for the CPU while it measures.
# Hedged point reads (`database.read_hedge_ms`, kit::db::hedge), measured side by side in
# one run on one throwaway PostgreSQL with N seeded users (default 100,000), on an
# oversubscribed machine: HOGS busy loops (default 4, on 2 cores) compete for the CPU
# while the targets are measured, as the CI's builds did in the lab runs whose burst p99
# the hedge is for. Three services at once, each as shipped but for the hedge: Node,
# Rust (hedge 10 ms, the default) and Rust with the hedge off (read_hedge_ms = 0).
# Each measurement alternates the targets, ROUNDS times (default 2):
#   1. GET /users/{random id}, closed model, 64 connections (what the hedge costs at
#      saturation), and the hedges counted by the service's /metrics;
#   2. the lab's burst: 20 % of Node's GET throughput for 5 s, 60 % for 2.5 s, 20 % for
#      5 s (open model, 128 connections): p99, and its ratio to Node's.
# Results: out/bench-hedge/summary.md (and each run's ferry JSON beside it).
#
#   HOGS=4 scripts/bench-hedge.sh [users] [seconds per closed run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
users=${1:-100000}
secs=${2:-5}
rounds=${3:-2}
hogs=${HOGS:-4}
out=out/bench-hedge
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt

cargo build -q --release -p user-service -p ferry
bin=target/release
ferry() { "$bin/ferry" "$@"; }

bench_start bench-hedge -c max_connections=300

echo "seeding $users users…" >&2
bench_seed_users "$users"
DATABASE_URL=$db "$bin/user-service" token --scope "users:read" > "$work/token"

declare -A port
(cd baselines/node && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
bench_start_service node NODE_ENV=production
bench_start_service rust
bench_start_service rust-nohedge APP_DATABASE__READ_HEDGE_MS=0
targets=(rust node rust-nohedge)

for _ in $(seq "$hogs"); do sh -c 'while :; do :; done' & pids+=("$!"); done
echo "$hogs busy loops compete for the CPU" >&2

get() { # json-name target [ferry options…]
  local name=$1 target=$2; shift 2
  ferry load -q --bearer-file "$work/token" --values "id=$work/ids.txt" --json "$out/$name.json" \
    "$@" "http://127.0.0.1:${port[$target]}/users/{id}"
}
hedges() { curl -s "127.0.0.1:${port[$1]}/metrics" | awk '/^db_read_hedges_total / {print $2}'; }
rps() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(round(t["successes"]/t["duration_s"]))' "$1"; }
p99() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["latency"]["corrected"]["p99_us"]/1000, 2))' "$1"; }
errors() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(t["error_count"] + t["dropped"])' "$1"; }

echo "GET, closed model, 64 connections, alternating…" >&2
for round in $(seq "$rounds"); do
  for target in "${targets[@]}"; do get "closed-$target-$round" "$target" -c 64 --warmup 2s -d "${secs}s"; done
done
node_rps=$(for f in "$out"/closed-node-[0-9]*.json; do rps "$f"; done | sort -n | tail -1)
base=$(( node_rps / 5 )); peak=$(( node_rps * 3 / 5 ))
hedges_before=$(hedges rust)

echo "the burst: ${base}/s 5 s, ${peak}/s 2.5 s, ${base}/s 5 s, alternating…" >&2
for round in $(seq "$rounds"); do
  for target in "${targets[@]}"; do
    get "burst-$target-$round" "$target" -c 128 --warmup 1s --rate "${base}/s:5s,${peak}/s:2.5s,${base}/s:5s"
  done
done
hedges_after=$(hedges rust)

{
  echo "# Hedged point reads, $hogs busy loops on $(nproc) cores ($(date -u +%F), $(git rev-parse --short HEAD))"
  echo
  echo "| target | closed GET req/s per round | burst p99 ms per round | burst errors |"
  echo "| --- | --- | --- | --- |"
  for target in "${targets[@]}"; do
    closed=$(for f in "$out"/closed-"$target"-[0-9]*.json; do rps "$f"; done | paste -sd/)
    burst=$(for f in "$out"/burst-"$target"-[0-9]*.json; do p99 "$f"; done | paste -sd/)
    errs=$(for f in "$out"/burst-"$target"-[0-9]*.json; do errors "$f"; done | paste -sd/)
    echo "| $target | $closed | $burst | $errs |"
  done
  echo
  echo "Reads hedged by rust: ${hedges_before:-0} in the closed runs, $(python3 -c "print(int(float('${hedges_after:-0}') - float('${hedges_before:-0}')))") in the bursts."
} | tee "$out/summary.md"
