#!/usr/bin/env bash
# ferry's distributed run across network namespaces (two load hosts, one target, a link cut
# halfway by an nftables drop rule): crates/ferry/tests/ferry/distributed_netns.rs, which is
# ignored by default because it needs root, iproute2 and nftables (scripts/setup.sh installs
# them). Bounded: the test takes ~15 s, the step is killed after 2 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ "$(id -u)" != 0 ]; then
  echo "distributed.sh: needs root for network namespaces" >&2
  exit 1
fi
started=$(date +%s)
# The build is not part of the bound: only the run is.
cargo test --workspace --test ferry --no-run
timeout --kill-after=10 120 \
  cargo test --workspace --test ferry distributed_netns:: -- --ignored --test-threads=1
echo "distributed.sh: $(( $(date +%s) - started )) s"
