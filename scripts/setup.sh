#!/usr/bin/env bash
# Installs what the project needs beyond the Rust toolchain, only where it is missing:
# PostgreSQL server binaries (the embedded database), Chromium (report screenshots in
# tests), nftables and iproute2 (ferry's namespaced distributed test), nginx and Python (the
# example lab), Prometheus and openssl (the candidates tests), podman, runc and mmdebstrap
# (the container images, with podman's configuration), and the Node baseline's packages
# (from its lockfile). Idempotent and quiet.
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
# ferry's distributed test cuts a namespaced host's link with an nftables drop rule.
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
# The example lab (labs/static, scripts/ci/labs.sh): nginx against Python's http.server.
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v python3 >/dev/null || need+=(python3)
# The container images (scripts/images.sh, docs/containers.md): podman with the runc
# runtime, and mmdebstrap for base images where no registry answers.
command -v podman >/dev/null || need+=(podman)
command -v runc >/dev/null || need+=(runc)
command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# podman, once: the runc runtime (crun refuses this machine's hybrid cgroups) and default
# ulimits the sandbox lets a container set (its podman default, nofile and nproc far above
# our hard limits, is refused), so a plain `podman run` works. An existing file without
# our marker is left alone.
containers_conf=/etc/containers/containers.conf
marker="# written by scripts/setup.sh"
if [ "$(id -u)" = 0 ] && command -v podman >/dev/null \
  && { [ ! -e "$containers_conf" ] || grep -qF "$marker" "$containers_conf"; }; then
  nofile=$(ulimit -Hn)
  [ "$nofile" = unlimited ] && nofile=1048576
  wanted="$marker
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=4096:4096\"]
[engine]
runtime = \"runc\""
  if [ "$(cat "$containers_conf" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: $containers_conf (runc, nofile $nofile, nproc 4096)" >&2
    mkdir -p /etc/containers
    printf '%s\n' "$wanted" > "$containers_conf"
  fi
fi

stamp=baselines/node/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ baselines/node/package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci in baselines/node" >&2
  (cd baselines/node && npm ci --no-audit --no-fund --loglevel=error)
fi

# Schemathesis for scripts/ci/schemathesis.sh, pinned, in a venv under the ignored .data/.
# Python 3.12 or newer: on 3.11 (both Debian's 3.11.2 and 3.11.7) hypothesis trips over
# CPython's "AST constructor recursion depth mismatch" SystemError on deep JSON bodies.
schemathesis_version=4.32.5
venv=.data/venv-schemathesis
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$schemathesis_version"; then
  python=""
  for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
      && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      python=$candidate
      break
    fi
  done
  if [ -z "$python" ]; then
    echo "setup: no Python 3.12+ found; scripts/ci/schemathesis.sh will not run" >&2
  else
    echo "setup: schemathesis $schemathesis_version in $venv ($python)" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "schemathesis==$schemathesis_version"
  fi
fi

# cargo-fuzz for scripts/ci/fuzz.sh (pinned; libFuzzer itself comes with libfuzzer-sys).
cargo_fuzz_version=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  echo "setup: cargo install cargo-fuzz $cargo_fuzz_version" >&2
  cargo install --quiet --locked cargo-fuzz --version "$cargo_fuzz_version"
fi
