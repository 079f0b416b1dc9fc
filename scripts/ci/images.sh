#!/usr/bin/env bash
# CI: the container images (docs/containers.md), in two parts, each timed:
#
# 1. on the host: the release builds of ferry (the containers lab below runs it, and
#    scripts/ci/labs.sh reuses it) and of the user-service (the lab's setup runs it; the
#    test step built it already), and the test binaries; not part of the bound, like every
#    host build of scripts/ci/;
# 2. bounded at 15 minutes: scripts/images.sh, the full multi-stage build as a team runs it
#    elsewhere (base images made where none can be pulled; the builder stage compiles the
#    three Rust binaries from source, crates from crates.io, with the release-profile
#    overrides .ci/run exports; the Node image), then the user-service image against a real
#    PostgreSQL (crates/user-service/tests/lifecycle/container.rs: readiness, an
#    authenticated request, the drain on `podman stop` under load, the embedded database
#    refused), then ferry's container targets: crates/ferry/tests/ferry/
#    compare_container.rs, compare_container_oom.rs and labs/containers.toml --quick.
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
# One package at a time, as the test step (the default lab's setup: -p user-service) and
# the labs step (-p ferry) build them: built together, cargo unifies their features and
# every one of them is compiled again.
for package in user-service ferry; do
  cargo build --release --locked -p "$package"
done
# The test binaries are built by the test step already.
cargo test --workspace --test lifecycle --test ferry --no-run
echo "images.sh: builds on the host in $(( $(date +%s) - started )) s"

bounded=$(date +%s)
timeout --kill-after=30 900 bash -c '
  ./scripts/images.sh
  cargo test --workspace --test lifecycle -- --ignored --test-threads=1 --nocapture container::
  # A container target at 0.5 CPU shows no CPU above 55 % (crates/ferry/tests/ferry/
  # compare_container.rs), one OOM-killed at 64 MiB fails its round and the capacity probe
  # it died in (compare_container_oom.rs; the filter matches both modules, one at a time),
  # and labs/containers.toml (the default lab as images) end to end.
  cargo test --workspace --test ferry -- --ignored --test-threads=1 --nocapture compare_container
  out=$(mktemp -d)
  "${CARGO_TARGET_DIR:-target}/release/ferry" compare --lab labs/containers.toml --quick \
    --no-progress --set vars.build=true --out "$out"
  rm -rf "$out"
'
echo "images.sh: the images, built from source, and the container tests in $(( $(date +%s) - bounded )) s"
echo "images.sh: $(( $(date +%s) - started )) s"
