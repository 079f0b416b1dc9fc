#!/usr/bin/env bash
# Closed-model throughput of ferry against wrk's, on one local plaintext server, same
# connections and threads, alternating the two tools so that drift on the machine hits both.
#
#   crates/ferry/bench/vs-wrk.sh [ROUNDS] [SECONDS] [CONNECTIONS] [THREADS]
#
# Needs wrk (apt-get install -y wrk) and builds ferry in release mode. Prints each round and
# the ratio of the means (ferry / wrk).
set -euo pipefail

rounds=${1:-3}
seconds=${2:-10}
connections=${3:-50}
threads=${4:-1}
port=${FERRY_BENCH_PORT:-18181}
here=$(cd "$(dirname "$0")" && pwd)
target_dir=${CARGO_TARGET_DIR:-$here/../../../target}

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
cargo build --release -p ferry --manifest-path "$here/../Cargo.toml" >&2
ferry="$target_dir/release/ferry"

"$ferry" serve-plaintext --addr "127.0.0.1:$port" --threads 1 >/dev/null &
server=$!
trap 'kill $server' EXIT
sleep 0.5
url="http://127.0.0.1:$port/"

# A short warm-up of the server's caches and the kernel's sockets, not measured.
wrk -t"$threads" -c"$connections" -d2s "$url" >/dev/null

wrk_total=0
ferry_total=0
for round in $(seq 1 "$rounds"); do
    wrk_rps=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" "$url" | awk '/^Requests\/sec:/ {print $2}')
    ferry_rps=$("$ferry" load -q -t "$threads" -c "$connections" -d "${seconds}s" --json /dev/stdout "$url" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["throughput_rps"])')
    printf 'round %d: wrk %.0f req/s, ferry %.0f req/s\n' "$round" "$wrk_rps" "$ferry_rps"
    wrk_total=$(python3 -c "print($wrk_total + $wrk_rps)")
    ferry_total=$(python3 -c "print($ferry_total + $ferry_rps)")
done
python3 -c "
wrk = $wrk_total / $rounds; ferry = $ferry_total / $rounds
print(f'mean over $rounds rounds of ${seconds}s, -c $connections, -t $threads: wrk {wrk:.0f} req/s, ferry {ferry:.0f} req/s, ratio {ferry / wrk:.3f}')
"
