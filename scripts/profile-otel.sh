#!/usr/bin/env bash
# What OpenTelemetry costs per request, in instructions (valgrind --tool=callgrind, whole
# process, so the exporter's thread counts too): an uncached GET /users/{id} (the request
# span and its database span) with the `otel` feature compiled in, first with no endpoint
# configured (off), then exporting every span to a local OTLP/HTTP sink (on, always_on
# sampler). Same binary, same seeded embedded PostgreSQL, one after the other.
# PROFILE_LOG_FILTER sets the log filter (default warn). Profiles stay in out/profile-otel/.
#
#   scripts/profile-otel.sh [requests]     (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
root=$PWD
requests=${1:-3000}
command -v valgrind >/dev/null || { echo "needs valgrind (apt-get install valgrind)" >&2; exit 1; }
cargo build -q --release -p user-service -p ferry
bin=$root/target/release
out=$root/out/profile-otel
mkdir -p "$out"
rm -f "$out"/callgrind.*
work=$(scratch_dir profile-otel)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

export APP_CONFIG_DIR=$root/crates/user-service/config APP_DATABASE__DATA_DIR=$work/pg JWT_SECRET=profile-otel-secret-0123456789abcdef APP_LOG__FILTER=${PROFILE_LOG_FILTER:-warn}
export APP_CACHE__ENABLED=false
"$bin/user-service" seed --users 1000 --ids-file "$work/ids.txt" >/dev/null
"$bin/user-service" token --scope users:read >"$work/token"

# The sink: answers every export 200 with an empty body (an empty ExportTraceServiceResponse).
sink_port=$(free_port)
python3 - "$sink_port" <<'PY' &
import http.server, sys
class Sink(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200); self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
pids+=($!)

# Instructions per request of `requests` uncached GETs, the service started with "$@" in its env.
measure() {
  local name=$1; shift
  local port; port=$(free_port)
  env "$@" PORT=$port valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.$name" \
    "$bin/user-service" serve >"$work/$name.log" 2>&1 &
  local pid=$!
  pids+=($pid)
  wait_ready "$port" "$pid" "$work/$name.log"
  local get=(--bearer-file "$work/token" --values "id=$work/ids.txt" "http://127.0.0.1:$port/users/{id}")
  "$bin/ferry" load -q -c 2 -t 1 -n 2000 "${get[@]}" >/dev/null # warm
  callgrind_control -z "$pid" >/dev/null 2>&1
  "$bin/ferry" load -q -c 2 -t 1 -n "$requests" "${get[@]}" >/dev/null
  # Past the batch delay, so the on run's export of these spans is counted.
  sleep 2
  callgrind_control -d "$pid" >/dev/null 2>&1; sleep 1
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  callgrind_annotate "$out/callgrind.$name.1" 2>/dev/null |
    awk -v n="$requests" '/PROGRAM TOTALS/ {gsub(",", "", $1); printf "%.1fk", $1 / n / 1000}'
}
off=$(measure off)
on=$(measure on OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$sink_port OTEL_SERVICE_NAME=profile OTEL_BSP_SCHEDULE_DELAY=500)
echo "instructions per uncached GET /users/{id}: otel off (compiled in, no endpoint) $off, otel on (exporting) $on"
echo "profiles: $out/callgrind.off.1, $out/callgrind.on.1"
