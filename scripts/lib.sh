# Shell helpers the scripts share. Source it: . "$(dirname "$0")/lib.sh"

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

# The benchmarks' common set-up: a scratch directory $work named after $1, a throwaway
# PostgreSQL in it started with the further arguments as server options ($db, and
# $pg_bindir), a random JWT_SECRET for every service started, and, on exit, every pid in
# $pids stopped, the server stopped and $work removed.
bench_start() { # name [postgres options…]
  local name=$1
  shift
  work=$(scratch_dir "$name")
  pids=()
  trap bench_cleanup EXIT
  start_throwaway_postgres "$work" "$@"
  db=$pg_url
  export JWT_SECRET=bench-$RANDOM$RANDOM-0123456789abcdef0123456789
}

bench_cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  stop_throwaway_postgres
  rm -rf "$work"
}

# Migrates $db and seeds $1 users with $bin/user-service; their ids in $work/ids.txt.
bench_seed_users() {
  DATABASE_URL=$db "$bin/user-service" migrate
  DATABASE_URL=$db "$bin/user-service" seed --users "$1" --ids-file "$work/ids.txt" >&2
}

# Starts service $1 on a fresh port (${port[$1]}) against $db and waits until it is ready:
# `node` is the Node baseline, any other name $bin/user-service; further arguments are
# environment assignments for it. Its pid joins $pids, its log is $work/$1.log. Needs
# `declare -A port` in the caller.
bench_start_service() { # name [VAR=value…]
  local name=$1
  shift
  port[$name]=$(free_port)
  if [ "$name" = node ]; then
    env DATABASE_URL="$db" PORT="${port[$name]}" "$@" node baselines/node/src/main.js >"$work/$name.log" 2>&1 &
  else
    env DATABASE_URL="$db" PORT="${port[$name]}" "$@" "$bin/user-service" serve >"$work/$name.log" 2>&1 &
  fi
  pids+=("$!")
  wait_ready "${port[$name]}" "$!" "$work/$name.log"
}
