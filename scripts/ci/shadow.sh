#!/usr/bin/env bash
# `ferry shadow` on the project's own services: two Node baselines (primary, secondary) and
# the Rust user-service (candidate) on one embedded PostgreSQL, replaying the contract's
# reads (crates/ferry/tests/ferry/shadow_node.rs, ignored by default because it needs Node and
# starts three services). Bounded: the test takes ~15 s, the step is killed after 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
# The builds (the test and the user-service it starts) are not part of the bound: only the run is.
# The test binary and the debug user-service the tests start, as the test step built them.
cargo test --workspace --all-targets --no-run
export USER_SERVICE_DEBUG_BIN="${CARGO_TARGET_DIR:-target}/debug/user-service"
timeout --kill-after=10 120 \
  cargo test --workspace --test ferry shadow_node:: -- --ignored --test-threads=1
echo "shadow.sh: $(( $(date +%s) - started )) s"
