#!/usr/bin/env bash
# Fuzzes the `parsing` crate (fuzz/, cargo-fuzz + libFuzzer): every target for a short
# time from the committed corpus. A crash fails the script and leaves its input in
# fuzz/artifacts/<target>/. See docs/fuzzing.md (why cargo-fuzz, the longer run).
#
#   scripts/ci/fuzz.sh [seconds per target]   (default 5: a smoke run from the corpus in CI,
#                                              whose 45 minutes it shares; longer: docs/fuzzing.md)
#
# RUSTC_BOOTSTRAP=1 is set here only: cargo-fuzz passes sanitizer flags that stable
# rustc accepts only with it. Nothing else in the project uses it.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Bounded: the whole script is killed after 480 s (8 min).
# The instrumented build comes first and is not part of the bound.
if [ -z "${FUZZ_BOUNDED:-}" ]; then
  command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed: run scripts/setup.sh" >&2; exit 1; }
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build -O --target-dir ../target/fuzz)
  FUZZ_BOUNDED=1 exec timeout --kill-after=10 480 bash "$PWD/scripts/ci/fuzz.sh" "$@"
fi
seconds=${1:-5}
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed: run scripts/setup.sh" >&2; exit 1; }
export RUSTC_BOOTSTRAP=1
cd fuzz
# In the worktree's own target directory, beside the normal builds.
fuzz=(cargo fuzz run -O --target-dir ../target/fuzz)
cargo fuzz build -O --target-dir ../target/fuzz
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in $(cargo fuzz list); do
  # New inputs go to the scratch directory (the first one); the committed corpus is read.
  mkdir -p "$scratch/$target"
  echo "fuzz: $target for $seconds s" >&2
  if ! "${fuzz[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    >"$scratch/$target.log" 2>&1; then
    tail -40 "$scratch/$target.log" >&2
    echo "fuzz: $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E "^Done" "$scratch/$target.log" >&2
done
echo "fuzz: no failure" >&2
