#!/usr/bin/env bash
# Regenerates the compile-time query data in crates/user-service/.sqlx (committed, so
# builds and CI need no database: SQLX_OFFLINE=true in .cargo/config.toml).
# Run it after changing a migration or a query. It starts a throwaway PostgreSQL from
# the machine's server binaries, applies migrations/, and re-checks the crate online.
set -euo pipefail
cd "$(dirname "$0")/.."

bindir=${PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}
[ -x "$bindir/postgres" ] || bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$bindir/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

work=$(mktemp -d /tmp/sqlx-prepare.XXXXXX)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres "$work"; as_pg=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$bindir/initdb" -D "$work/data" -U postgres -A trust --no-sync >/dev/null
"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -o "-p $port -c listen_addresses=127.0.0.1 -k $work" -l "$work/log" -w start >/dev/null
trap '"${as_pg[@]}" "$bindir/pg_ctl" -D "$work/data" -m fast stop >/dev/null; rm -rf "$work"' EXIT

url="postgres://postgres@127.0.0.1:$port/postgres"
for migration in migrations/*.sql; do psql -q -v ON_ERROR_STOP=1 "$url" -f "$migration"; done

rm -rf crates/user-service/.sqlx
mkdir -p crates/user-service/.sqlx
touch crates/user-service/src/lib.rs
SQLX_OFFLINE=false DATABASE_URL=$url SQLX_OFFLINE_DIR=$PWD/crates/user-service/.sqlx \
  cargo check -p user-service --all-targets --quiet
echo "wrote $(ls crates/user-service/.sqlx | wc -l) query files to crates/user-service/.sqlx"
