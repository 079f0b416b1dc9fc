#!/usr/bin/env bash
# What limits the memory of an idle keep-alive connection (issue: "RSS with 10,000 idle
# keep-alive connections ≤ RSS with 100 + 64 MB"). actix-http gives every HTTP/1
# connection an 8 KiB read buffer and an 8 KiB write buffer (HW_BUFFER_SIZE in its h1
# dispatcher), and no setting reaches them (actix/actix-web#499 asked for one in 2018).
# This measures their share: it builds the user-service twice, as released and against
# a temporary copy of actix-http with 1 KiB buffers, and measures each one's RSS with
# 100 and with 10,000 idle keep-alive connections. The copy lives in a temporary
# directory and is never part of the project.
#
#   scripts/actix-buffer-experiment.sh      (about 10 minutes: two release builds)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
root=$PWD
work=$(scratch_dir actix-buffers)
pid=
cleanup() {
  [ -n "$pid" ] && { kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
  git -C "$root" worktree remove --force "$work/tree" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# Both builds use the same profile (without LTO, for speed): only the buffers differ.
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_TARGET_DIR=$work/target

actix_http=$(cargo metadata --format-version 1 | python3 -c '
import json, os, sys
print(next(os.path.dirname(p["manifest_path"]) for p in json.load(sys.stdin)["packages"] if p["name"] == "actix-http"))')
cp -r "$actix_http" "$work/actix-http"
sed -i -e 's/^const HW_BUFFER_SIZE: usize = 1024 \* 8;/const HW_BUFFER_SIZE: usize = 1024;/' \
  -e 's/^const LW_BUFFER_SIZE: usize = 1024;/const LW_BUFFER_SIZE: usize = 256;/' \
  "$work/actix-http/src/h1/dispatcher.rs"
grep -q '^const HW_BUFFER_SIZE: usize = 1024;' "$work/actix-http/src/h1/dispatcher.rs" ||
  { echo "actix-http's dispatcher no longer has the buffer constants this experiment changes" >&2; exit 1; }
git worktree add -q --detach "$work/tree" HEAD
printf '\n[patch.crates-io]\nactix-http = { path = "%s" }\n' "$work/actix-http" >> "$work/tree/Cargo.toml"

echo "building as released, then with 1 KiB buffers…" >&2
cargo build -q --release -p user-service && cp "$CARGO_TARGET_DIR/release/user-service" "$work/as-released"
(cd "$work/tree" && cargo build -q --release -p user-service) && cp "$CARGO_TARGET_DIR/release/user-service" "$work/small-buffers"

# One embedded PostgreSQL (started by the first service, reused by the second).
export APP_CONFIG_DIR=$root/crates/user-service/config APP_DATABASE__DATA_DIR=$work/pg JWT_SECRET=actix-buffer-experiment-secret-0123456 APP_LOG__FILTER=warn
export APP_SERVER__KEEP_ALIVE_SECS=60
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
port=$(free_port)
{
  echo "| actix-http buffers | RSS, 100 idle connections | RSS, 10,000 | difference | per connection |"
  echo "| --- | --- | --- | --- | --- |"
  for build in as-released small-buffers; do
    PORT=$port "$work/$build" serve >"$work/$build.log" 2>&1 &
    pid=$!
    wait_ready "$port" "$pid" "$work/$build.log"
    small=$(python3 scripts/idle-rss.py "$port" 100 "$pid")
    large=$(python3 scripts/idle-rss.py "$port" 10000 "$pid")
    kill -TERM "$pid"; wait "$pid" || true; pid=
    label=$([ "$build" = as-released ] && echo "8 KiB + 8 KiB (as released)" || echo "1 KiB + 1 KiB (experiment)")
    python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'| {sys.argv[3]} | {a} MiB | {b} MiB | +{b-a:.1f} MiB | {(b-a)*1024/9900:.1f} KiB |')" \
      "$small" "$large" "$label"
  done
} | tee out/actix-buffer-experiment.md
