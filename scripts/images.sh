#!/usr/bin/env bash
# Builds the four container images (docs/containers.md) and tags them:
#
#   localhost/user-service:dev    deploy/containers/rust.Containerfile, target user-service
#   localhost/notes:dev           deploy/containers/rust.Containerfile, target notes
#   localhost/ferry:dev           deploy/containers/rust.Containerfile, target ferry
#   localhost/node-baseline:dev   deploy/containers/node.Containerfile
#
#   scripts/images.sh              # the Rust binaries compiled in the builder stage, once
#                                  # for the three images (its layer is reused), with the
#                                  # CARGO_PROFILE_RELEASE_* variables of the caller (CI's)
#   scripts/images.sh --prebuilt   # the runtime stages from this machine's release binaries
#                                  # (cargo build --release -p of each, one at a time,
#                                  # run here first), no builder stage
#
# Base images missing here are pulled, or made from Debian where no registry answers
# (scripts/base-images.sh). Builds use the host's network (crates.io, the npm registry,
# deb.debian.org). Prints each image's build time and size.
set -euo pipefail
cd "$(dirname "$0")/.."

prebuilt=false
case "${1:-}" in
  --prebuilt) prebuilt=true ;;
  "") ;;
  *) echo "usage: scripts/images.sh [--prebuilt]" >&2; exit 2 ;;
esac

started=$(date +%s)
./scripts/base-images.sh
echo "images: base images ready in $(( $(date +%s) - started )) s" >&2

# The builder stage compiles with the caller's release-profile overrides, as cargo on this
# machine would (.ci/run exports CARGO_PROFILE_RELEASE_LTO=off and _CODEGEN_UNITS=16).
cargo_env=$(env | grep -E '^CARGO_PROFILE_RELEASE_[A-Z_]+=' | sort | tr '\n' ' ' || true)
rust_context=(--build-arg "CARGO_ENV=$cargo_env")
if $prebuilt; then
  binaries=$(mktemp -d /tmp/images-binaries.XXXXXX)
  trap 'rm -rf "$binaries"' EXIT
  built=$(date +%s)
  # One package at a time, as CI's other steps build them (together, cargo would unify
  # their features and compile everything again).
  for package in user-service ferry notes; do
    cargo build --release --locked -p "$package"
  done
  echo "images: host release build in $(( $(date +%s) - built )) s" >&2
  target_dir=$(dirname "$(./scripts/user-service-bin.sh auto)")
  mkdir "$binaries/out"
  # Without debug information, as the builder stage leaves them.
  for binary in user-service notes ferry; do
    objcopy --strip-debug "$target_dir/$binary" "$binaries/out/$binary"
  done
  rust_context=(--build-context "binaries=$binaries")
fi

# build NAME CONTAINERFILE [podman build options…]
build() {
  local name=$1 file=$2 begun
  shift 2
  begun=$(date +%s)
  podman build --quiet --network host --file "$file" --tag "localhost/$name:dev" "$@" . >/dev/null
  echo "images: localhost/$name:dev in $(( $(date +%s) - begun )) s," \
    "$(podman image inspect --format '{{.Size}}' "localhost/$name:dev") bytes" >&2
}

for target in user-service notes ferry; do
  build "$target" deploy/containers/rust.Containerfile --target "$target" ${rust_context[@]+"${rust_context[@]}"}
done
build node-baseline deploy/containers/node.Containerfile
echo "images: all four in $(( $(date +%s) - started )) s" >&2
