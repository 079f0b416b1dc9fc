#!/usr/bin/env bash
# What request telemetry costs in throughput (issue 10: at most 5 % of GET /users/{id}):
# the user-service as shipped (log filter info) against the same binary with
# [server] request_telemetry = false (no request id, span or metrics), GET of one fixed
# id, 64 connections, on one throwaway PostgreSQL. The targets alternate, ROUNDS times
# (default 3); each gives its best and its median round (rounds of one target differ by
# up to 1.5x while other builds load the machine: quote the ratios). BASELINE_BIN=path/to/user-service adds the
# same pair for another build (say, the commit before a change), in the same rounds.
# Results: out/bench-telemetry/summary.md (and each run's ferry JSON beside it).
#
#   scripts/bench-telemetry.sh [seconds per run] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
secs=${1:-10}
rounds=${2:-3}
out=out/bench-telemetry
mkdir -p "$out"
rm -f "$out"/*.json

cargo build -q --release -p user-service -p ferry
bin=target/release

bench_start bench-telemetry -c max_connections=100
bench_seed_users 1000
head -1 "$work/ids.txt" >"$work/one-id.txt"
DATABASE_URL=$db "$bin/user-service" token --scope users:read >"$work/token"

declare -A port
start() { # name binary [env…]: a service on a fresh port, shipped configuration otherwise
  local name=$1 binary=$2
  shift 2
  port[$name]=$(free_port)
  env DATABASE_URL="$db" PORT="${port[$name]}" "$@" "$binary" serve >"$work/$name.log" 2>&1 &
  pids+=("$!")
  wait_ready "${port[$name]}" "$!" "$work/$name.log"
}
targets=(shipped silent)
start shipped "$bin/user-service"
start silent "$bin/user-service" APP_SERVER__REQUEST_TELEMETRY=false
if [ -n "${BASELINE_BIN:-}" ]; then
  targets+=(baseline-shipped baseline-silent)
  start baseline-shipped "$BASELINE_BIN"
  start baseline-silent "$BASELINE_BIN" APP_SERVER__REQUEST_TELEMETRY=false
fi

rps() { python3 -c 'import json,sys; t=json.load(open(sys.argv[1]))["totals"]; print(round(t["successes"]/t["duration_s"]))' "$1"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.3f}')" "$1" "$2"; }
for round in $(seq "$rounds"); do
  for target in "${targets[@]}"; do
    echo "round $round: $target" >&2
    "$bin/ferry" load -q --warmup 2s -d "${secs}s" -c 64 --bearer-file "$work/token" \
      --values "id=$work/one-id.txt" --json "$out/$target-$round.json" \
      "http://127.0.0.1:${port[$target]}/users/{id}" >/dev/null
  done
done
declare -A best median
for target in "${targets[@]}"; do
  rounds_rps=$(for f in "$out/$target"-[0-9]*.json; do rps "$f"; done | sort -n)
  best[$target]=$(tail -1 <<<"$rounds_rps")
  median[$target]=$(python3 -c 'import statistics,sys; print(round(statistics.median(map(int, sys.argv[1:]))))' $rounds_rps)
done

{
  echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores (load average before the run's end:"
  echo "$(cut -d' ' -f1-3 /proc/loadavg)): \`scripts/bench-telemetry.sh $secs $rounds\`, best of $rounds alternated rounds."
  echo
  echo "| GET /users/{id}, one fixed id, 64 connections | shipped (info), best / median | no request telemetry, best / median | shipped / none, best (median) |"
  echo "| --- | --- | --- | --- |"
  row() { # label shipped-target silent-target
    echo "| $1 | ${best[$2]} / ${median[$2]} | ${best[$3]} / ${median[$3]} | **$(ratio "${best[$2]}" "${best[$3]}")** ($(ratio "${median[$2]}" "${median[$3]}")) |"
  }
  row "this build" shipped silent
  if [ -n "${BASELINE_BIN:-}" ]; then row BASELINE_BIN baseline-shipped baseline-silent; fi
} | tee "$out/summary.md"
