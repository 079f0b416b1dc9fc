#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain, only where it is missing:
# PostgreSQL server binaries (the embedded database), Chromium (report screenshots in
# tests), Prometheus and openssl (the candidates tests), and the Node baseline's packages (from its
# lockfile). Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
have_pg_server() {
  local dir
  dir=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && return 0
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
}
have_pg_server || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
# The real Prometheus `ferry candidates` is tested against (scripts/ci/prometheus.sh).
command -v prometheus >/dev/null || need+=(prometheus)
command -v openssl >/dev/null || need+=(openssl)
command -v node >/dev/null || need+=(nodejs npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

stamp=baselines/node/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ baselines/node/package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci in baselines/node" >&2
  (cd baselines/node && npm ci --no-audit --no-fund --loglevel=error)
fi
