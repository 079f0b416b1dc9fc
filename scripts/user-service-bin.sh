#!/usr/bin/env sh
# Prints the path of the release user-service binary for the default lab (ferry-lab.toml):
# $1 itself unless it is "auto"; else where Cargo puts it, asked of Cargo (so that
# CARGO_TARGET_DIR and a build.target-dir in .cargo/config.toml are honoured).
set -eu
if [ "${1:-auto}" != auto ]; then
  echo "$1"
  exit 0
fi
dir=$(cargo metadata --format-version 1 --no-deps \
  | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
if [ -z "$dir" ]; then
  echo "user-service-bin.sh: cargo metadata named no target directory" >&2
  exit 1
fi
echo "$dir/release/user-service"
