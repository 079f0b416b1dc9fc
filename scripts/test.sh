#!/usr/bin/env bash
# The test command: installs what is missing, then runs every test of the project
# against real PostgreSQL clusters (started by the tests themselves), real processes
# and real sockets: the Node baseline's unit tests, then the Rust workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
(cd baselines/node && npm test --silent)
cargo test --workspace --all-targets "$@"
