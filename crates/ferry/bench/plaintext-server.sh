# Sourced by the benches here: builds ferry (release) and starts one local
# `ferry serve-plaintext` on $port with one thread, stopped when the bench exits
# (after running any cleanup the bench put in $on_exit). Sets ferry and url.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target_dir=${CARGO_TARGET_DIR:-$here/../../../target}
cargo build --release -p ferry --manifest-path "$here/../Cargo.toml" >&2
ferry="$target_dir/release/ferry"
"$ferry" serve-plaintext --addr "127.0.0.1:$port" --threads 1 >/dev/null &
server=$!
trap 'kill $server; eval "${on_exit:-}"' EXIT
sleep 0.5
url="http://127.0.0.1:$port/"
