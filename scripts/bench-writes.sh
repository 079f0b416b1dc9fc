#!/usr/bin/env bash
# Not a lab (labs/) yet: a lab cannot seed a fresh set of users before each DELETE run so that
# each id is deleted once.
# PATCH and DELETE coalescing (issue 10), measured side by side in one run on one
# throwaway PostgreSQL: Node, Rust, and the same Rust binary with coalescing off
# (APP_DATABASE__COALESCE=false), each in its shipped configuration (no log filter
# override), 64 connections, closed model. Each measurement alternates the targets,
# ROUNDS times (default 3), and keeps each target's best round:
#   1. PATCH /users/{random id} to a fresh email, over N seeded users (default 100,000);
#   2. DELETE /users/{id}, each id once: before each DELETE run, M users (default
#      300,000) are seeded for it alone and walked round-robin, so every DELETE finds
#      its user (204) unless the run outruns M (then the summary says so: 404s are not
#      counted as successes).
# Throughput counts successes only (status < 400).
# Results: out/bench-writes/summary.md (and each run's ferry JSON beside it).
# BENCH_PROFILE=dev measures the debug build (the workspace's own crates unoptimised,
# dependencies at opt-level 2) where no release build is at hand; the summary says which.
#
#   [BENCH_PROFILE=release|dev] scripts/bench-writes.sh [users] [seconds per run] [rounds] [users per DELETE run]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
users=${1:-100000}
secs=${2:-10}
rounds=${3:-3}
per_delete=${4:-300000}
out=out/bench-writes
mkdir -p "$out"
rm -f "$out"/*.json "$out"/summary.md

profile=${BENCH_PROFILE:-release}
cargo build -q --profile "$profile" -p user-service -p ferry
bin=target/$([ "$profile" = dev ] && echo debug || echo "$profile")

bench_start bench-writes -c max_connections=300 -c shared_buffers=512MB

echo "seeding $users users…" >&2
bench_seed_users "$users"
DATABASE_URL=$db "$bin/user-service" token --scope "users:read users:write" > "$work/token"
psql -q "$db" -c "VACUUM ANALYZE users" >/dev/null

declare -A port
(cd baselines/node && [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error)
targets=(rust node rust-nocoalesce)
bench_start_service node
bench_start_service rust
bench_start_service rust-nocoalesce APP_DATABASE__COALESCE=false

load() { # json-name target [ferry options…] url-path
  local name=$1 target=$2; shift 2
  local path=${*: -1}
  "$bin/ferry" load -q --warmup 2s -d "${secs}s" -c 64 --bearer-file "$work/token" \
    --json "$out/$name.json" "${@:1:$#-1}" "http://127.0.0.1:${port[$target]}$path"
}
rps() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(round(t["successes"]/t["duration_s"]))' "$1"; }
statuses() { python3 -c 'import json,sys; print(" ".join(f"{k}:{v}" for k,v in sorted(json.load(open(sys.argv[1]))["totals"]["status"].items())))' "$1"; }
best() { for f in "$@"; do rps "$f"; done | sort -n | tail -1; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2"; }
# {uuid} is drawn from the run's seed: a seed per run, so no run replays another's emails.
runs=0
patch_users() { load "$1" "$2" -X PATCH -H 'content-type: application/json' --seed "$((++runs))" \
  --body '{"email":"patched-{uuid}@example.com"}' --values "id=$work/ids.txt" '/users/{id}'; }
delete_users() {
  DATABASE_URL=$db "$bin/user-service" seed --users "$per_delete" --ids-file "$work/delete-ids.txt" >/dev/null 2>&1
  load "$1" "$2" -X DELETE --values "id=$work/delete-ids.txt" --values-order round-robin '/users/{id}'
}

echo "PATCH and DELETE, 64 connections, alternating ${targets[*]}…" >&2
for round in $(seq "$rounds"); do
  for target in "${targets[@]}"; do patch_users "patch-$target-$round" "$target"; done
  for target in "${targets[@]}"; do delete_users "delete-$target-$round" "$target"; done
done
declare -A patch delete
for target in "${targets[@]}"; do
  patch[$target]=$(best "$out"/patch-"$target"-[0-9]*.json)
  delete[$target]=$(best "$out"/delete-"$target"-[0-9]*.json)
done

{
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores shared with other engineers' builds and tests"
  echo "(load average $(cut -d' ' -f1 /proc/loadavg)): \`BENCH_PROFILE=$profile scripts/bench-writes.sh $users $secs $rounds $per_delete\`, best of $rounds alternated rounds."
  echo
  echo "| measurement | value |"
  echo "| --- | --- |"
  echo "| PATCH /users/{id}: Rust coalescing on / off | ${patch[rust]} / ${patch[rust-nocoalesce]} = **$(ratio "${patch[rust]}" "${patch[rust-nocoalesce]}")×** |"
  echo "| PATCH: Rust / Node | ${patch[rust]} / ${patch[node]} = **$(ratio "${patch[rust]}" "${patch[node]}")×** |"
  echo "| DELETE /users/{id}: Rust coalescing on / off | ${delete[rust]} / ${delete[rust-nocoalesce]} = **$(ratio "${delete[rust]}" "${delete[rust-nocoalesce]}")×** |"
  echo "| DELETE: Rust / Node | ${delete[rust]} / ${delete[node]} = **$(ratio "${delete[rust]}" "${delete[node]}")×** |"
  echo
  echo "Every run's statuses (round by round):"
  echo
  for kind in patch delete; do
    for target in "${targets[@]}"; do
      for f in "$out"/"$kind"-"$target"-[0-9]*.json; do
        echo "- $(basename "$f" .json): $(rps "$f")/s ($(statuses "$f"))"
      done
    done
  done
} | tee "$out/summary.md"
