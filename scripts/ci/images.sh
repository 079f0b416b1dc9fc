#!/usr/bin/env bash
# CI: the container images (docs/containers.md), in three parts, each timed:
#
# 1. the release binaries, built on the host (not part of the bound, like every build of
#    scripts/ci/; scripts/ci/labs.sh's release build of ferry reuses it);
# 2. bounded at 15 minutes: scripts/images.sh --prebuilt (base images made where none can
#    be pulled; the three Rust images' runtime stages from those binaries; the Node image),
#    then the user-service image against a real PostgreSQL (crates/user-service/tests/
#    lifecycle/container.rs: readiness, an authenticated request, the drain on
#    `podman stop` under load, the embedded database refused); then ferry's container
#    targets: crates/ferry/tests/ferry/compare_container.rs and labs/containers.toml --quick;
# 3. with IMAGES_FULL_BUILD=1 only, bounded at 30 minutes: the full multi-stage build of
#    the user-service image, the builder stage compiling from source, as a team builds it
#    elsewhere. It replaces the image of part 2. Off in .ci/run: a from-scratch compile in
#    the builder takes 10 to 25 minutes on the 2-core machine, which would take CI past its
#    45 minutes (docs/containers.md gives the times measured).
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
# One package at a time, as the test step (the default lab's setup: -p user-service) and
# the labs step (-p ferry) build them: built together, cargo unifies their features and
# every one of them is compiled again.
for package in user-service ferry notes; do
  cargo build --release --locked -p "$package"
done
# The test binary is built by the test step already.
cargo test --workspace --test lifecycle --no-run
echo "images.sh: builds on the host in $(( $(date +%s) - started )) s"

bounded=$(date +%s)
timeout --kill-after=30 900 bash -c '
  ./scripts/images.sh --prebuilt
  cargo test --workspace --test lifecycle -- --ignored --test-threads=1 --nocapture container::
  # A container target at 0.5 CPU shows no CPU above 55 % (crates/ferry/tests/ferry/
  # compare_container.rs), and labs/containers.toml (the default lab as images) end to end.
  cargo test --workspace --test ferry -- --ignored --nocapture compare_container::
  out=$(mktemp -d)
  "${CARGO_TARGET_DIR:-target}/release/ferry" compare --lab labs/containers.toml --quick \
    --no-progress --set vars.build=true --out "$out"
  rm -rf "$out"
'
echo "images.sh: images from host binaries and the container test in $(( $(date +%s) - bounded )) s"

if [ "${IMAGES_FULL_BUILD:-0}" != 1 ]; then
  echo "images.sh: $(( $(date +%s) - started )) s (the full multi-stage build: IMAGES_FULL_BUILD=1)"
  exit 0
fi
full=$(date +%s)
timeout --kill-after=30 1800 podman build --quiet --network host \
  --file deploy/containers/rust.Containerfile --target user-service \
  --tag localhost/user-service:dev . >/dev/null
echo "images.sh: full multi-stage build of localhost/user-service:dev in $(( $(date +%s) - full )) s," \
  "$(podman image inspect --format '{{.Size}}' localhost/user-service:dev) bytes"
echo "images.sh: $(( $(date +%s) - started )) s"
