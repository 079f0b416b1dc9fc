#!/usr/bin/env bash
# What `ferry shadow` costs, on local `ferry serve-plaintext` servers:
#  1. the proxy's added latency: `ferry load` at RATE requests/s (open model) against the
#     primary directly and through `ferry shadow proxy` (mirroring every request to a
#     secondary and a candidate), alternated ROUNDS times; p50 and p99 of each, and the
#     difference;
#  2. the replay's throughput: REPLAY requests replayed to the three servers, in three-way
#     comparisons per second.
#
#   crates/ferry/bench/shadow.sh [ROUNDS] [SECONDS] [RATE] [REPLAY]
#
# Builds ferry in release mode. Everything runs on this machine: load, proxy and servers
# share its cores, so quote the ratios, not the absolute figures.
set -euo pipefail

rounds=${1:-3}
seconds=${2:-10}
rate=${3:-5000}
replay=${4:-50000}
port=${FERRY_BENCH_PORT:-18281}
work=$(mktemp -d /tmp/ferry-shadow-bench.XXXXXX)
on_exit='kill $secondary $candidate ${proxy:-} 2>/dev/null; rm -rf "$work"'
. "$(dirname "$0")/plaintext-server.sh"
primary=$url
"$ferry" serve-plaintext --addr "127.0.0.1:$((port + 1))" --threads 1 >/dev/null &
secondary=$!
"$ferry" serve-plaintext --addr "127.0.0.1:$((port + 2))" --threads 1 >/dev/null &
candidate=$!
# The proxy checks its targets at start: wait until all three answer.
for p in "$port" $((port + 1)) $((port + 2)); do
    until curl -s "127.0.0.1:$p/" >/dev/null; do sleep 0.1; done
done
"$ferry" shadow proxy --listen "127.0.0.1:$((port + 3))" --primary "$primary" \
    --secondary "http://127.0.0.1:$((port + 1))" --candidate "http://127.0.0.1:$((port + 2))" \
    --report-every 1h --json "$work/proxy.json" >/dev/null &
proxy=$!
until curl -s "127.0.0.1:$((port + 3))/" >/dev/null; do
    kill -0 $proxy 2>/dev/null || { echo "the proxy did not start" >&2; exit 1; }
    sleep 0.1
done

load() {
    "$ferry" load -q -t 1 -c 32 -R "$rate" -d "${seconds}s" --warmup 2s --json /dev/stdout "$1" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin); c=r["latency"]["corrected"]; print(c["p50_us"], c["p99_us"], r["totals"]["error_count"])'
}

results=()
for round in $(seq 1 "$rounds"); do
    read -r direct50 direct99 direct_errors < <(load "$primary")
    read -r proxy50 proxy99 proxy_errors < <(load "http://127.0.0.1:$((port + 3))/")
    printf 'round %d at %s/s: direct p50 %d us p99 %d us (errors %d); proxy p50 %d us p99 %d us (errors %d)\n' \
        "$round" "$rate" "$direct50" "$direct99" "$direct_errors" "$proxy50" "$proxy99" "$proxy_errors"
    results+=("$direct50,$direct99,$proxy50,$proxy99")
done
python3 - "$rate" "${results[@]}" <<'PY'
import statistics, sys
rate = sys.argv[1]
rows = [tuple(map(int, row.split(","))) for row in sys.argv[2:]]
med = lambda index: statistics.median(row[index] for row in rows)
print(f"proxy at {rate}/s, median of {len(rows)} rounds: p50 direct {med(0)} us, proxy {med(2)} us, "
      f"added {med(2) - med(0)} us; p99 direct {med(1)} us, proxy {med(3)} us, added {med(3) - med(1)} us")
PY
kill -TERM $proxy
wait $proxy || true
python3 - "$work/proxy.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["requests"]
print(f"proxy mirrored {r['sent']} of {r['read']} requests, dropped {r['dropped']}")
PY
proxy=

for n in $(seq 1 "$replay"); do echo "GET /items/$n"; done > "$work/requests.txt"
"$ferry" shadow --primary "$primary" --secondary "http://127.0.0.1:$((port + 1))" \
    --candidate "http://127.0.0.1:$((port + 2))" --requests "$work/requests.txt" -c 64 \
    --no-progress --json "$work/replay.json" >/dev/null
python3 - "$work/replay.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"replay: {r['requests']['compared']} three-way comparisons in {r['wall_time_s']:.2f} s, "
      f"{r['comparisons_per_second']:.0f}/s")
PY
