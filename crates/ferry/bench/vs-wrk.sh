#!/usr/bin/env bash
# Closed-model throughput of ferry against wrk's, on one local plaintext server, same
# connections and threads, alternating the two tools so that drift on the machine hits both.
#
#   crates/ferry/bench/vs-wrk.sh [ROUNDS] [SECONDS] [CONNECTIONS] [THREADS]
#
# Needs wrk (apt-get install -y wrk) and builds ferry in release mode. Prints each round with
# its ratio (ferry / wrk), then the median of the rounds' ratios and the ratio of the means.
set -euo pipefail

rounds=${1:-5}
seconds=${2:-10}
connections=${3:-50}
threads=${4:-1}
port=${FERRY_BENCH_PORT:-18181}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
. "$(dirname "$0")/plaintext-server.sh"

# A short warm-up of the server's caches and the kernel's sockets, not measured.
wrk -t"$threads" -c"$connections" -d2s "$url" >/dev/null

results=()
for round in $(seq 1 "$rounds"); do
    wrk_rps=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" "$url" | awk '/^Requests\/sec:/ {print $2}')
    ferry_rps=$("$ferry" load -q -t "$threads" -c "$connections" -d "${seconds}s" --json /dev/stdout "$url" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["throughput_rps"])')
    printf 'round %d: wrk %.0f req/s, ferry %.0f req/s, ratio %.3f\n' "$round" "$wrk_rps" "$ferry_rps" \
        "$(python3 -c "print($ferry_rps / $wrk_rps)")"
    results+=("$wrk_rps,$ferry_rps")
done
python3 - "$rounds" "$seconds" "$connections" "$threads" "${results[@]}" <<'EOF'
import statistics, sys
rounds, seconds, connections, threads = sys.argv[1:5]
pairs = [tuple(map(float, pair.split(","))) for pair in sys.argv[5:]]
wrk = statistics.mean(w for w, _ in pairs)
ferry = statistics.mean(f for _, f in pairs)
median = statistics.median(f / w for w, f in pairs)
print(f"{rounds} rounds of {seconds}s, -c {connections}, -t {threads}: "
      f"median ratio ferry/wrk {median:.3f}; means wrk {wrk:.0f} req/s, ferry {ferry:.0f} req/s, "
      f"ratio of means {ferry / wrk:.3f}")
EOF
