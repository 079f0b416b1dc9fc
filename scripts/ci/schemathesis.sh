#!/usr/bin/env bash
# Schemathesis (PyPI, pinned in scripts/setup.sh) against the committed docs/openapi.json,
# on BOTH implementations: every check, every phase (examples, coverage, fuzzing,
# stateful), a fixed number of examples per operation, deterministic generation, so a run is
# reproducible and bounded. Any failure fails the script.
#
#   scripts/ci/schemathesis.sh [max-examples per operation]   (default 250: over 1,000
#   generated cases on each implementation, about 30 s in all)
#
# A longer run: scripts/ci/schemathesis.sh 2000 (and drop --generation-deterministic
# below to explore beyond the fixed cases). Check settings: the user-service's
# crates/user-service/schemathesis.toml (passed with --config-file).
#
# Each implementation gets its own database on one throwaway PostgreSQL. The Rust
# service is the debug binary (built here; the test step built it already in CI).
set -euo pipefail
cd "$(dirname "$0")/../.."
# Bounded: the whole script is killed after 300 s (5 min).
# The build comes first and is not part of the bound.
if [ -z "${SCHEMATHESIS_BOUNDED:-}" ]; then
  cargo test -q --workspace --all-targets --no-run
  SCHEMATHESIS_BOUNDED=1 exec timeout --kill-after=10 300 bash "$PWD/scripts/ci/schemathesis.sh" "$@"
fi
. scripts/lib.sh
examples=${1:-250}
st=${SCHEMATHESIS:-.data/venv-schemathesis/bin/schemathesis}
[ -x "$st" ] || { echo "schemathesis is not installed: run scripts/setup.sh" >&2; exit 1; }

cargo test -q --workspace --all-targets --no-run
bin=target/debug/user-service
work=$(scratch_dir schemathesis)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_throwaway_postgres
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 124' INT TERM
start_throwaway_postgres "$work" -c max_connections=200
export JWT_SECRET=schemathesis-secret-$RANDOM$RANDOM-0123456789abcdef
for db in rust node; do psql -q "$pg_url" -c "CREATE DATABASE $db" >/dev/null; done
# The same socket URL, naming another database (the path part of postgres:///DB?host=...).
db_url() { printf '%s' "$pg_url" | sed "s|:///postgres?|:///$1?|"; }
rust_url=$(db_url rust)
node_url=$(db_url node)
DATABASE_URL=$rust_url "$bin" migrate
DATABASE_URL=$node_url "$bin" migrate
token=$(DATABASE_URL=$rust_url "$bin" token --scope "users:read users:write")

rust_port=$(free_port); node_port=$(free_port)
DATABASE_URL=$rust_url PORT=$rust_port APP_LOG__FILTER=warn APP_ENV=test \
  "$bin" serve >"$work/rust.log" 2>&1 &
pids+=($!); wait_ready "$rust_port" "$!" "$work/rust.log"
(cd baselines/node && exec env DATABASE_URL=$node_url PORT=$node_port LOG_LEVEL=warn WORKERS=2 \
  node src/main.js >"$work/node.log" 2>&1) &
pids+=($!); wait_ready "$node_port" "$!" "$work/node.log"

status=0
for target in "rust $rust_port" "node $node_port"; do
  set -- $target
  echo "schemathesis: $1 (max-examples $examples per operation)" >&2
  started=$SECONDS
  "$st" --config-file crates/user-service/schemathesis.toml run docs/openapi.json --url "http://127.0.0.1:$2" \
    --checks all --phases examples,coverage,fuzzing,stateful \
    --max-examples "$examples" --generation-deterministic \
    --header "Authorization: Bearer $token" \
    --request-timeout 10 --workers 2 --no-color \
    --report junit --report-dir "out/schemathesis/$1" || status=1
  echo "schemathesis: $1 took $((SECONDS - started)) s" >&2
done
exit $status
