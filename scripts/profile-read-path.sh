#!/usr/bin/env bash
# Instructions per request (valgrind --tool=callgrind) of a cached GET /users/{id}
# against the same server's /health/live: what a cached read costs beyond the static
# path, independent of the machine's noise. Starts the release user-service with the
# cache on, under callgrind, on an embedded PostgreSQL in a temporary directory; warms
# the cache; then counts REQUESTS requests of each endpoint (2 connections, 1 thread).
# PROFILE_LOG_FILTER sets the log filter (default warn; `info` is the shipped one), and
# APP_SERVER__REQUEST_TELEMETRY=false measures without request telemetry.
# The profiles stay in out/profile-read-path/ for callgrind_annotate.
#
#   scripts/profile-read-path.sh [requests]     (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
root=$PWD
requests=${1:-5000}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build -q --release -p user-service -p ferry
bin=$root/target/release
out=$root/out/profile-read-path
mkdir -p "$out"
rm -f "$out"/callgrind.*
work=$(scratch_dir profile-read-path)
pid=
cleanup() {
  [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

export APP_CONFIG_DIR=$root/crates/user-service/config APP_DATABASE__DATA_DIR=$work/pg JWT_SECRET=profile-read-path-secret-0123456789ab APP_LOG__FILTER=${PROFILE_LOG_FILTER:-warn}
export APP_CACHE__ENABLED=true
port=$(free_port)
"$bin/user-service" seed --users 100 --ids-file "$work/ids.txt" >/dev/null
"$bin/user-service" token --scope users:read >"$work/token"
PORT=$port valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
  "$bin/user-service" serve >"$work/service.log" 2>&1 &
pid=$!
wait_ready "$port" "$pid" "$work/service.log"
cached=(--bearer-file "$work/token" --values "id=$work/ids.txt" "http://127.0.0.1:$port/users/{id}")
static=("http://127.0.0.1:$port/health/live")
load() { "$bin/ferry" load -q -c 2 -t 1 "$@" >/dev/null; }
load -n 3000 "${cached[@]}"; load -n 3000 "${static[@]}" # warm: every id cached, code paths hot
callgrind_control -z "$pid" >/dev/null 2>&1
load -n "$requests" "${cached[@]}"
callgrind_control -d "$pid" >/dev/null 2>&1; sleep 1; callgrind_control -z "$pid" >/dev/null 2>&1
load -n "$requests" "${static[@]}"
callgrind_control -d "$pid" >/dev/null 2>&1; sleep 1
per_request() { callgrind_annotate "$1" 2>/dev/null | awk -v n="$requests" '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%.1fk", $1 / n / 1000}'; }
echo "instructions per request: cached GET /users/{id} $(per_request "$out/callgrind.out.1"), /health/live $(per_request "$out/callgrind.out.2")"
echo "profiles: $out/callgrind.out.1 (cached GET), $out/callgrind.out.2 (/health/live)"
