#!/usr/bin/env bash
# The upstream base images the Containerfiles name (deploy/containers/, docs/containers.md):
# each is kept if present, else pulled, and only where no registry answers is it made here
# and tagged under the upstream name:
#
#   docker.io/library/rust:1.95-bookworm      Debian bookworm (mmdebstrap, minbase, gcc)
#                                             + this machine's rustup toolchain
#   gcr.io/distroless/cc-debian12:nonroot     the packages distroless cc carries, extracted
#                                             by mmdebstrap, user nonroot (65532)
#   docker.io/library/node:20-bookworm-slim   Debian bookworm (mmdebstrap, minbase)
#                                             + this machine's Node 20 and npm, user node
#
# The builder and Node stand-ins trust what this machine trusts (its CA bundle, which may
# hold a proxy's CA), so cargo and npm reach their registries from inside a build.
# Needs root, podman and mmdebstrap (scripts/setup.sh installs them), and deb.debian.org.
set -euo pipefail

RUST_IMAGE=docker.io/library/rust:1.95-bookworm
RUNTIME_IMAGE=gcr.io/distroless/cc-debian12:nonroot
NODE_IMAGE=docker.io/library/node:20-bookworm-slim
MIRRORS=(
  "deb http://deb.debian.org/debian bookworm main"
  "deb http://deb.debian.org/debian bookworm-updates main"
  "deb http://deb.debian.org/debian-security bookworm-security main"
)
# Documentation and translations: a slim image has none (as debian:bookworm-slim).
SLIM=(
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
)
PATH_VALUE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

work=$(mktemp -d /tmp/base-images.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Present, or pulled: nothing to make.
available() {
  podman image exists "$1" && return 0
  podman pull -q "$1" >/dev/null 2>&1
}

# podman import of directory $1 as image $2, with --change instructions after.
import_dir() {
  local dir=$1 name=$2
  shift 2
  local changes=()
  for change in "$@"; do changes+=(--change "$change"); done
  tar -C "$dir" --numeric-owner -c . | podman import -q "${changes[@]}" - "$name" >/dev/null
  echo "base-images: made $name ($(podman image inspect --format '{{.Size}}' "$name") bytes)" >&2
}

# The machine's CA bundle in root filesystem $1 (npm is told to use it too).
trust_machine_cas() {
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
}

# Debian bookworm, minbase, with extra packages $2… in directory $1.
debian_minbase() {
  local dir=$1
  shift
  local include
  include=$(IFS=,; echo "$*")
  mmdebstrap --quiet --variant=minbase ${include:+--include="$include"} "${SLIM[@]}" \
    --customize-hook='chroot "$1" apt-get clean' \
    --customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
    bookworm "$dir" "${MIRRORS[@]}"
}

make_rust() {
  local version sysroot dir=$work/rust
  version=$(rustc --version | awk '{print $2}')
  case $version in
    1.95.*) ;;
    *) echo "base-images: $RUST_IMAGE needs rustc 1.95 here, found $version" >&2; return 1 ;;
  esac
  debian_minbase "$dir" gcc libc6-dev make pkg-config ca-certificates
  trust_machine_cas "$dir"
  sysroot=$(rustc --print sysroot)
  local toolchain=/usr/local/rustup/toolchains/$version-x86_64-unknown-linux-gnu
  mkdir -p "$dir$toolchain" "$dir/usr/local/cargo/bin"
  # The toolchain without its documentation (share/), as the official image's minimal profile.
  cp -a "$sysroot"/bin "$sysroot"/lib "$sysroot"/libexec "$sysroot"/etc "$dir$toolchain"/
  for tool in cargo rustc rustdoc; do ln -s "$toolchain/bin/$tool" "$dir/usr/local/cargo/bin/$tool"; done
  import_dir "$dir" "$RUST_IMAGE" \
    "ENV RUSTUP_HOME=/usr/local/rustup" "ENV CARGO_HOME=/usr/local/cargo" \
    "ENV RUST_VERSION=$version" "ENV PATH=/usr/local/cargo/bin:$PATH_VALUE" 'CMD ["bash"]'
}

make_runtime() {
  local dir=$work/runtime
  # What gcr.io/distroless/cc-debian12 carries; extracted, not installed (no shell, no dpkg).
  mmdebstrap --quiet --variant=extract \
    --include=base-files,netbase,tzdata,ca-certificates,libc6,libgcc-s1,libstdc++6,libssl3,gcc-12-base \
    bookworm "$dir" "${MIRRORS[@]}"
  rm -rf "$dir"/usr/share/{doc,man,info,locale,lintian} "$dir"/var/lib/apt "$dir"/var/cache/apt
  # The bundle ca-certificates' maintainer script would have written.
  cat "$dir"/usr/share/ca-certificates/mozilla/*.crt > "$dir"/etc/ssl/certs/ca-certificates.crt
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$dir"/etc/passwd
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$dir"/etc/group
  install -d -m 0700 -o 65532 -g 65532 "$dir"/home/nonroot
  install -d -m 0700 "$dir"/root
  install -d -m 1777 "$dir"/tmp
  import_dir "$dir" "$RUNTIME_IMAGE" \
    "ENV PATH=$PATH_VALUE" "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt" \
    "USER 65532" "WORKDIR /home/nonroot"
}

make_node() {
  local version dir=$work/node
  version=$(node --version)
  case $version in
    v20.*) ;;
    *) echo "base-images: $NODE_IMAGE needs Node 20 here, found $version" >&2; return 1 ;;
  esac
  debian_minbase "$dir" ca-certificates
  trust_machine_cas "$dir"
  install -D -m 0644 /dev/stdin "$dir/usr/local/etc/npmrc" <<<'cafile=/etc/ssl/certs/ca-certificates.crt'
  install -D -m 0755 "$(readlink -f "$(command -v node)")" "$dir/usr/local/bin/node"
  local npm_dir
  npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
  mkdir -p "$dir/usr/local/lib/node_modules"
  cp -a "$npm_dir" "$dir/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$dir/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$dir/usr/local/bin/npx"
  # The official image's user.
  chroot "$dir" groupadd --gid 1000 node
  chroot "$dir" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  import_dir "$dir" "$NODE_IMAGE" "ENV NODE_VERSION=${version#v}" "ENV PATH=$PATH_VALUE" 'CMD ["node"]'
}

available "$RUST_IMAGE" || make_rust
available "$RUNTIME_IMAGE" || make_runtime
available "$NODE_IMAGE" || make_node
