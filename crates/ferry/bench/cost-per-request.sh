#!/usr/bin/env bash
# Client-side cost per request of ferry and wrk, counted rather than timed, so that it is
# stable on a busy machine: user-space instructions (valgrind's callgrind) and system calls
# (strace -c), both against one local `ferry serve-plaintext`, -c 50 -t 1.
#
#   crates/ferry/bench/cost-per-request.sh [FERRY_REQUESTS] [WRK_SECONDS]
#
# Needs valgrind, strace and wrk. ferry's start-up (a 50-request run) is subtracted from its
# instruction count; wrk's is negligible and left in.
set -euo pipefail

requests=${1:-20000}
wrk_seconds=${2:-3}
port=${FERRY_BENCH_PORT:-18183}
scratch=$(mktemp -d)
on_exit='rm -rf "$scratch"'
. "$(dirname "$0")/plaintext-server.sh"

instructions() { # callgrind's total for the command in "$@"
    valgrind --tool=callgrind --callgrind-out-file="$scratch/cg.out" "$@" 2>&1 >/dev/null \
        | awk '/I *refs:/ {gsub(",", "", $NF); print $NF}'
}
syscalls() { # system calls made by the command in "$@", all threads
    strace -f -c -o "$scratch/strace.txt" "$@" >/dev/null 2>&1
    awk '$NF == "total" {print $4}' "$scratch/strace.txt"
}

base=$(instructions "$ferry" load -q -t 1 -c 50 -n 50 "$url")
total=$(instructions "$ferry" load -q -t 1 -c 50 -n "$requests" "$url")
echo "ferry: $(( (total - base) / requests )) instructions per request"
ferry_calls=$(syscalls "$ferry" load -q -t 1 -c 50 -n "$requests" "$url")
echo "ferry: $(python3 -c "print(f'{$ferry_calls / $requests:.2f}')") system calls per request"

wrk_out=$(valgrind --tool=callgrind --callgrind-out-file="$scratch/cg.out" \
    wrk -t1 -c50 -d"${wrk_seconds}s" "$url" 2>"$scratch/valgrind.txt")
wrk_requests=$(echo "$wrk_out" | awk '/requests in/ {print $1}')
wrk_total=$(awk '/I *refs:/ {gsub(",", "", $NF); print $NF}' "$scratch/valgrind.txt")
echo "wrk:   $(( wrk_total / wrk_requests )) instructions per request"
wrk_out=$(strace -f -c -o "$scratch/strace.txt" wrk -t1 -c50 -d"${wrk_seconds}s" "$url")
wrk_requests=$(echo "$wrk_out" | awk '/requests in/ {print $1}')
wrk_calls=$(awk '$NF == "total" {print $4}' "$scratch/strace.txt")
echo "wrk:   $(python3 -c "print(f'{$wrk_calls / $wrk_requests:.2f}')") system calls per request"
