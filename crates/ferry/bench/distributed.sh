#!/usr/bin/env bash
# Two namespaced load hosts against one target vs one host with the same total load: total
# throughput and p99, side by side, alternated round by round.
#
#   sudo bash crates/ferry/bench/distributed.sh [ROUNDS] [SECONDS] [CONNECTIONS] [RATE]
#
# Each round runs, in this order: closed model with CONNECTIONS in all, from two hosts
# (--share 1/2 and 2/2, one --start-at, -t 1 each, merged with `ferry report --merge`) and
# from one host (-t 2); then the open model at RATE in all, the same two ways. The target is
# `ferry serve-plaintext -t 1` in a third namespace; every host reaches it over a veth pair
# and a bridge (scripts/netns-lab.sh), the single host too, so the path is the same.
# All three namespaces share this machine's cores: the split cannot add capacity here, it
# shows what splitting and merging change in the measurement.
set -euo pipefail
rounds=${1:-3}
seconds=${2:-10}
connections=${3:-50}
rate=${4:-20000}
here=$(cd "$(dirname "$0")" && pwd)
repo=$here/../../..
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
target_dir=${CARGO_TARGET_DIR:-$repo/target}
cargo build --release -p ferry --manifest-path "$here/../Cargo.toml" >&2
ferry="$target_dir/release/ferry"
. "$repo/scripts/netns-lab.sh"

lab=ferrybench$$
out=$(mktemp -d /tmp/ferry-distributed-bench.XXXXXX)
netns_lab_down "$lab"
netns_lab_up "$lab"
ip netns exec "$lab-target" "$ferry" serve-plaintext --addr "$NETNS_LAB_TARGET:8080" -t 1 >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; netns_lab_down "$lab"; rm -rf "$out"' EXIT
url="http://$NETNS_LAB_TARGET:8080/"
until ip netns exec "$lab-h1" bash -c "exec 3<>/dev/tcp/$NETNS_LAB_TARGET/8080" 2>/dev/null; do sleep 0.1; done

# run_two TAG ARGS...: shares 1/2 and 2/2 from h1 and h2 with one start, merged into TAG.json.
run_two() {
  local tag=$1 start
  shift
  start=$(python3 -c 'import time; print(f"{time.time() + 1.5:.3f}")')
  ip netns exec "$lab-h1" "$ferry" load -q -t 1 --share 1/2 --start-at "$start" --warmup 1s \
    --json "$out/$tag-1.json" "$@" "$url" &
  local one=$!
  ip netns exec "$lab-h2" "$ferry" load -q -t 1 --share 2/2 --start-at "$start" --warmup 1s \
    --json "$out/$tag-2.json" "$@" "$url"
  wait $one
  "$ferry" report --merge "$out/$tag-1.json" "$out/$tag-2.json" --json "$out/$tag.json" >/dev/null
}

# run_one TAG ARGS...: the whole load from h1 alone.
run_one() {
  local tag=$1
  shift
  ip netns exec "$lab-h1" "$ferry" load -q -t 2 --warmup 1s --json "$out/$tag.json" "$@" "$url"
}

row() {
  jq -r --arg round "$1" --arg how "$2" --arg model "$3" \
    '[$round, $model, $how, (.totals.throughput_rps | round), .latency.corrected.p99_us,
      .latency.service.p99_us, .totals.error_count, .totals.dropped] | @tsv' "$out/$4.json"
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf 'round\tmodel\thosts\tthroughput_rps\tp99_us\tservice_p99_us\terrors\tdropped\n'
rows=$out/rows.tsv
: > "$rows"
for round in $(seq "$rounds"); do
  closed=(-c "$connections" -d "${seconds}s")
  open=(--rate "$rate" -c "$connections" -d "${seconds}s")
  run_two closed-two "${closed[@]}";  row "$round" two closed closed-two | tee -a "$rows"
  run_one closed-one "${closed[@]}";  row "$round" one closed closed-one | tee -a "$rows"
  run_two open-two "${open[@]}";      row "$round" two open open-two | tee -a "$rows"
  run_one open-one "${open[@]}";      row "$round" one open open-one | tee -a "$rows"
done
# Medians per model and host count, and two hosts over one.
python3 - "$rows" <<'PY'
import statistics, sys
rows = [line.split("\t") for line in open(sys.argv[1]) if line.strip()]
for model in ("closed", "open"):
    median = {}
    for hosts in ("two", "one"):
        picked = [r for r in rows if r[1] == model and r[2] == hosts]
        median[hosts] = (statistics.median(float(r[3]) for r in picked),
                         statistics.median(float(r[4]) for r in picked))
    (t2, p2), (t1, p1) = median["two"], median["one"]
    print(f"median {model}: throughput two {t2:.0f} / one {t1:.0f} = {t2 / t1:.3f}; "
          f"p99 two {p2 / 1000:.2f} ms / one {p1 / 1000:.2f} ms = {p2 / p1:.3f}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
