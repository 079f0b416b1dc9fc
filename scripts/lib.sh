# Shell helpers the scripts share (the profiles, the actix buffer experiment, sqlx-prepare.sh
# and CI's schemathesis step; the benchmarks are labs/ now). Source it: . "$(dirname "$0")/lib.sh"

# A free TCP port on 127.0.0.1.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# A new temporary directory named after $1 that PostgreSQL can enter (it runs as the
# postgres user when we are root).
scratch_dir() {
  local dir
  dir=$(mktemp -d "/tmp/$1.XXXXXX")
  chmod 755 "$dir"
  echo "$dir"
}

# Waits until the service on port $1 answers /health/ready; when process $2 exits
# first, prints its log $3 and fails.
wait_ready() {
  until curl -sf "127.0.0.1:$1/health/ready" >/dev/null; do
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; return 1; }
    sleep 0.1
  done
}

# A throwaway PostgreSQL in directory $1 (from scratch_dir), from the machine's server
# binaries; further arguments are extra server options ("-c name=value …"). Sets
# pg_bindir and pg_url; stop it with stop_throwaway_postgres. Like the embedded server of
# crates/pg-embedded, it listens on no TCP address, only on a Unix socket (0700) in its
# data directory (0700, the server user's), so no other local user can connect;
# pg_url names the socket libpq's way: postgres:///postgres?host=DIR&port=N&user=postgres.
start_throwaway_postgres() {
  local dir=$1 port
  shift
  pg_bindir=${PG_BINDIR:-$(pg_config --bindir 2>/dev/null || true)}
  [ -x "$pg_bindir/postgres" ] || pg_bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
  [ -x "$pg_bindir/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; return 1; }
  pg_as=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; pg_as=(runuser -u postgres --); fi
  pg_data=$dir/data
  # Only names the socket file: nothing listens on TCP.
  port=$(free_port)
  "${pg_as[@]}" "$pg_bindir/initdb" -D "$pg_data" -U postgres --auth-local=trust --auth-host=reject --no-sync >/dev/null
  "${pg_as[@]}" "$pg_bindir/pg_ctl" -D "$pg_data" -l "$dir/postgres.log" -w start \
    -o "-p $port -c listen_addresses= -k $pg_data -c unix_socket_permissions=0700 $*" >/dev/null
  pg_url="postgres:///postgres?host=$pg_data&port=$port&user=postgres"
}

stop_throwaway_postgres() {
  [ -n "${pg_data:-}" ] || return 0
  "${pg_as[@]}" "$pg_bindir/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true
}
