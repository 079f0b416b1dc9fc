#!/usr/bin/env bash
# Coalescing (issue 10), measured side by side in one run on one throwaway PostgreSQL
# with N seeded users (default 1,000,000). Three services run at once, each in its
# shipped configuration (no log filter override): Node, Rust, and Rust with coalescing
# off (APP_DATABASE__COALESCE=false). Each measurement alternates the targets, ROUNDS
# times (default 2), and keeps each target's best round:
#   1. POST /users, a fresh email per request, closed model, 64 connections;
#   2. GET /users/{random id}, cache off, 64 connections; pgbench -S -M prepared at
#      1, 2 and 4 clients (the database's own ceiling: its best client count);
#   3. the open model at 10 % of Node's GET capacity: Rust p99 with and without
#      coalescing;
#   4. telemetry: GET of one fixed id on Rust as shipped (info), at warn, and with
#      [server] request_telemetry = false (no request span, id or metrics).
# (Run files are NAME-TARGET-ROUND.json; the globs match the round digits, since
# "rust-*" would also match "rust-nocoalesce-*".)
# Results: out/bench-coalescing/summary.md (and each run's ferry JSON beside it).
#
#   scripts/bench-coalescing.sh [users] [seconds per run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
users=${1:-1000000}
secs=${2:-10}
rounds=${3:-2}
out=out/bench-coalescing
mkdir -p "$out"
rm -f "$out"/*.json "$out"/*.txt

cargo build -q --release -p user-service -p ferry
bin=target/release
ferry() { "$bin/ferry" "$@"; }

bench_start bench-coalescing -c max_connections=300 -c shared_buffers=512MB
pgbin=$pg_bindir

echo "seeding $users users…" >&2
bench_seed_users "$users"
head -1 "$work/ids.txt" > "$work/one-id.txt"
DATABASE_URL=$db "$bin/user-service" token --scope "users:read users:write" > "$work/token"
psql -q "$db" -c "VACUUM ANALYZE users" >/dev/null
"$pgbin/pgbench" -q -i -s 10 "$db" >/dev/null 2>&1

declare -A port
(cd baselines/node && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
bench_start_service node
bench_start_service rust
bench_start_service rust-nocoalesce APP_DATABASE__COALESCE=false

load() { # json-name target [ferry options…] url-path
  local name=$1 target=$2; shift 2
  local path=${*: -1}
  ferry load -q --warmup 2s -d "${secs}s" --bearer-file "$work/token" \
    --json "$out/$name.json" "${@:1:$#-1}" "http://127.0.0.1:${port[$target]}$path"
}
rps() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(round(t["successes"]/t["duration_s"]))' "$1"; }
p99() { python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["latency"]["corrected"]["p99_us"]/1000, 2))' "$1"; }
best() { for f in "$@"; do rps "$f"; done | sort -n | tail -1; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }
# {uuid} is drawn from the run's seed: a seed per run, or a later run would replay the
# emails an earlier one created (and meet 409s).
post_users() { load "$1" "$2" -c 64 -X POST -H 'content-type: application/json' --seed "$((++post_runs))" \
  --body '{"email":"bench-{uuid}@example.com"}' /users; }
post_runs=0
get_users() { load "$1" "$2" -c 64 --values "id=$work/ids.txt" '/users/{id}'; }

echo "POST /users and GET /users/{id}, 64 connections, alternating…" >&2
for round in $(seq "$rounds"); do
  for target in rust node rust-nocoalesce; do post_users "post-$target-$round" "$target"; done
  for target in rust node rust-nocoalesce; do get_users "get-$target-$round" "$target"; done
  for clients in 1 2 4; do
    "$pgbin/pgbench" -S -M prepared -c "$clients" -j "$((clients < 2 ? 1 : 2))" -T "$secs" "$db" 2>/dev/null |
      awk '/^tps/ {print int($3)}' >> "$out/pgbench-$clients.txt"
  done
done
declare -A post get
for target in rust node rust-nocoalesce; do
  post[$target]=$(best "$out"/post-"$target"-[0-9]*.json)
  get[$target]=$(best "$out"/get-"$target"-[0-9]*.json)
done
pg_best=0; pg_clients=0
for clients in 1 2 4; do
  tps=$(sort -n "$out/pgbench-$clients.txt" | tail -1)
  if [ "$tps" -gt "$pg_best" ]; then pg_best=$tps; pg_clients=$clients; fi
done

tenth=$(( ${get[node]} / 10 ))
echo "open model at $tenth/s (10 % of Node's GET capacity)…" >&2
for round in $(seq "$rounds"); do
  for target in rust rust-nocoalesce; do
    load "open-$target-$round" "$target" -c 64 --rate "$tenth" --values "id=$work/ids.txt" '/users/{id}'
  done
done
low_p99() { for f in "$out"/open-"$1"-[0-9]*.json; do p99 "$f"; done | sort -n | head -1; }
p99_on=$(low_p99 rust); p99_off=$(low_p99 rust-nocoalesce)

echo "telemetry: one fixed id, shipped (info), warn, request_telemetry off…" >&2
bench_start_service rust-warn APP_LOG__FILTER=warn
bench_start_service rust-silent APP_SERVER__REQUEST_TELEMETRY=false
declare -A fixed
for round in $(seq "$rounds"); do
  for target in rust rust-warn rust-silent; do
    load "fixed-$target-$round" "$target" -c 64 --values "id=$work/one-id.txt" '/users/{id}'
  done
done
for target in rust rust-warn rust-silent; do fixed[$target]=$(best "$out"/fixed-"$target"-[0-9]*.json); done

{
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores shared with other engineers' builds and tests"
  echo "(load average $(cut -d' ' -f1 /proc/loadavg)): \`scripts/bench-coalescing.sh $users $secs $rounds\`, best of $rounds alternated rounds."
  echo
  echo "| measurement | value | target |"
  echo "| --- | --- | --- |"
  echo "| POST /users, 64 conns: Rust / Node | ${post[rust]} / ${post[node]} = **$(ratio "${post[rust]}" "${post[node]}")×** | ≥ 2.0× |"
  echo "| POST /users: Rust coalescing on / off | ${post[rust]} / ${post[rust-nocoalesce]} = **$(ratio "${post[rust]}" "${post[rust-nocoalesce]}")×** | |"
  echo "| GET /users/{id}, cache off, $users users, 64 conns: Rust / Node | ${get[rust]} / ${get[node]} = **$(ratio "${get[rust]}" "${get[node]}")×** | ≥ 3.0× |"
  echo "| the same: Rust / pgbench -S -M prepared ($pg_clients clients, $pg_best tps) | **$(ratio "${get[rust]}" "$pg_best")×** | ≥ 0.6× |"
  echo "| GET: Rust coalescing on / off | ${get[rust]} / ${get[rust-nocoalesce]} = **$(ratio "${get[rust]}" "${get[rust-nocoalesce]}")×** | |"
  echo "| open model at $tenth/s (10 % of Node): Rust p99 coalescing on / off | $p99_on ms / $p99_off ms = **$(ratio "$p99_on" "$p99_off")×** | ≤ 1.1× |"
  echo "| GET one id: shipped (info) / no request telemetry | ${fixed[rust]} / ${fixed[rust-silent]} = **$(ratio "${fixed[rust]}" "${fixed[rust-silent]}")×** | ≥ 0.95× |"
  echo "| GET one id: warn / no request telemetry | ${fixed[rust-warn]} / ${fixed[rust-silent]} = **$(ratio "${fixed[rust-warn]}" "${fixed[rust-silent]}")×** | |"
} | tee "$out/summary.md"
