#!/usr/bin/env bash
# Closed-model throughput of ferry against wrk's on one local nginx, over HTTPS (TLS resumed
# keep-alive: every connection shakes hands once and stays open) and over plaintext, same
# connections and threads, the four runs of a round alternated (wrk https, ferry https, wrk
# http, ferry http) so that drift on the machine hits every one alike.
#
#   crates/ferry/bench/vs-wrk-tls.sh [ROUNDS] [SECONDS] [CONNECTIONS] [THREADS]
#
# Needs wrk (apt-get install -y wrk), nginx (Debian's) and openssl; builds ferry in release
# mode. nginx runs as one process (one core); the CA and certificate are made here (P-256).
# Prints each round with its two ratios (ferry / wrk), then per protocol the median of the
# rounds' ratios and the ratio of the means.
set -euo pipefail

rounds=${1:-5}
seconds=${2:-10}
connections=${3:-50}
threads=${4:-1}
https_port=${FERRY_BENCH_HTTPS_PORT:-18543}
http_port=${FERRY_BENCH_PORT:-18544}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is missing: apt-get install -y openssl" >&2; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$nginx" ] || { echo "nginx is missing: apt-get install -y nginx" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
target_dir=${CARGO_TARGET_DIR:-$here/../../../target}
cargo build --release -p ferry --manifest-path "$here/../Cargo.toml" >&2
ferry="$(cd "$target_dir/release" && pwd)/ferry"

scratch=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$scratch"' EXIT
cd "$scratch"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
openssl req -x509 "${ec[@]}" -days 2 -subj /CN=bench-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req "${ec[@]}" -subj /CN=127.0.0.1 -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > server.ext
openssl x509 -req -days 2 -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
    -extfile server.ext -out server.pem 2>/dev/null
cat > nginx.conf <<EOF
daemon off; master_process off; worker_processes 1; pid $scratch/nginx.pid;
error_log $scratch/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $scratch; proxy_temp_path $scratch; fastcgi_temp_path $scratch;
  uwsgi_temp_path $scratch; scgi_temp_path $scratch;
  keepalive_requests 100000000; keepalive_timeout 300s;
  ssl_protocols TLSv1.2 TLSv1.3; ssl_session_cache shared:bench:1m;
  server {
    listen 127.0.0.1:$https_port ssl; listen 127.0.0.1:$http_port;
    ssl_certificate $scratch/server.pem; ssl_certificate_key $scratch/server.key;
    location / { return 200 'Hello, World!'; }
  }
}
EOF
"$nginx" -p "$scratch" -c "$scratch/nginx.conf" -e "$scratch/error.log" &
server=$!
sleep 0.5
https="https://127.0.0.1:$https_port/"
http="http://127.0.0.1:$http_port/"

wrk_rps() { wrk -t"$threads" -c"$connections" -d"${seconds}s" "$1" | awk '/^Requests\/sec:/ {print $2}'; }
ferry_rps() {
    "$ferry" load -q -t "$threads" -c "$connections" -d "${seconds}s" --json /dev/stdout "$@" \
        | python3 -c 'import json,sys; print(json.load(sys.stdin)["totals"]["throughput_rps"])'
}

# A short warm-up of nginx, its session cache and the kernel's sockets, not measured.
wrk -t"$threads" -c"$connections" -d2s "$https" >/dev/null
wrk -t"$threads" -c"$connections" -d2s "$http" >/dev/null
"$ferry" load -q -t "$threads" -c "$connections" -d 2s --cacert ca.pem --json /dev/stdout "$https" \
    | python3 -c 'import json,sys; t=json.load(sys.stdin)["settings"]["tls"]; print("TLS agreed:", t["version"], t["cipher_suite"], "ALPN", t["alpn"])'

results=()
for round in $(seq 1 "$rounds"); do
    wrk_tls=$(wrk_rps "$https")
    ferry_tls=$(ferry_rps --cacert ca.pem "$https")
    wrk_plain=$(wrk_rps "$http")
    ferry_plain=$(ferry_rps "$http")
    python3 -c "print(f'round $round: https wrk {$wrk_tls:.0f} ferry {$ferry_tls:.0f} ratio {$ferry_tls / $wrk_tls:.3f}; http wrk {$wrk_plain:.0f} ferry {$ferry_plain:.0f} ratio {$ferry_plain / $wrk_plain:.3f}')"
    results+=("$wrk_tls,$ferry_tls,$wrk_plain,$ferry_plain")
done
python3 - "$rounds" "$seconds" "$connections" "$threads" "${results[@]}" <<'EOF'
import statistics, sys
rounds, seconds, connections, threads = sys.argv[1:5]
rows = [tuple(map(float, row.split(","))) for row in sys.argv[5:]]
for name, w, f in (("https (TLS, resumed keep-alive)", 0, 1), ("http (plaintext)", 2, 3)):
    wrk = statistics.mean(row[w] for row in rows)
    ferry = statistics.mean(row[f] for row in rows)
    median = statistics.median(row[f] / row[w] for row in rows)
    print(f"{name}: {rounds} rounds of {seconds}s, -c {connections}, -t {threads}: median ratio "
          f"ferry/wrk {median:.3f}; means wrk {wrk:.0f} req/s, ferry {ferry:.0f} req/s, "
          f"ratio of means {ferry / wrk:.3f}")
EOF
