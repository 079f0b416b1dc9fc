#!/usr/bin/env bash
# `ferry candidates` against a real Prometheus (Debian's package): scraping the real Rust
# service and Node baseline under phased load, and behind https with basic auth. These are
# the #[ignore]d tests in crates/ferry/tests/ferry/candidates_prometheus/. Builds first (outside
# the budget), then runs them within 3 minutes and prints how long they took.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v prometheus >/dev/null || { echo "prometheus is not installed (scripts/setup.sh installs it)" >&2; exit 1; }
# The test binary and the debug user-service the tests start, as the test step built them.
cargo test --workspace --all-targets --no-run
export USER_SERVICE_DEBUG_BIN="${CARGO_TARGET_DIR:-target}/debug/user-service"
started=$(date +%s)
timeout 180 cargo test --workspace --test ferry candidates_prometheus:: -- --ignored --nocapture --test-threads 1
echo "prometheus: candidates tests passed in $(( $(date +%s) - started )) s"
