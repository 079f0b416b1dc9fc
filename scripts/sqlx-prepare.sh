#!/usr/bin/env bash
# Regenerates the compile-time query data in crates/user-service/.sqlx (committed, so
# builds and CI need no database: SQLX_OFFLINE=true in .cargo/config.toml).
# Run it after changing a migration or a query. It starts a throwaway PostgreSQL from
# the machine's server binaries, applies crates/user-service/migrations/, and re-checks
# the crate online.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

work=$(scratch_dir sqlx-prepare)
trap 'stop_throwaway_postgres; rm -rf "$work"' EXIT
start_throwaway_postgres "$work"
url=$pg_url
for migration in crates/user-service/migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$migration"; done

rm -rf crates/user-service/.sqlx
mkdir -p crates/user-service/.sqlx
touch crates/user-service/src/lib.rs
SQLX_OFFLINE=false DATABASE_URL=$url SQLX_OFFLINE_DIR=$PWD/crates/user-service/.sqlx \
  cargo check -p user-service --all-targets --quiet
echo "wrote $(ls crates/user-service/.sqlx | wc -l) query files to crates/user-service/.sqlx"
