#!/usr/bin/env bash
# CI: the example labs end to end (`ferry compare --lab ... --quick`), each bounded:
# labs/static (nginx, Debian's package, against Python's standard library: no
# database, none of this project's services) and labs/node-anchor (the Node baseline
# against a minimal fastify + postgres.js point read, on an embedded PostgreSQL), and
# labs/coalescing.toml (node vs rust vs rust without coalescing, with pgbench), and
# labs/log-filter.toml (the Rust service as shipped vs logging off, 17 s). Prints each
# lab's duration; fails when a run fails (an invalid scenario exits 5) or its compare.json is
# incomplete or has a target without throughput.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -p ferry
ferry="${CARGO_TARGET_DIR:-target}/release/ferry"
for lab in labs/*/lab.toml labs/coalescing.toml labs/log-filter.toml; do
    out="$(mktemp -d)"
    start=$(date +%s)
    timeout 300 "$ferry" compare --lab "$lab" --quick --no-progress --out "$out"
    python3 - "$out/compare.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["complete"], report["failure"]
assert sum(t["role"] == "baseline" for t in report["targets"]) == 1
for target in report["targets"]:
    for scenario in target["scenarios"]:
        assert scenario["summary"]["throughput_rps"] > 0, (target["name"], scenario["scenario"])
print("compare.json:", len(report["targets"]), "targets,", len(report["targets"][0]["scenarios"]), "scenarios, complete")
PY
    echo "lab $lab: $(( $(date +%s) - start )) s"
    rm -rf "$out"
done
# Every lab file under labs/ is checked (`--plan`: read, validated, planned; nothing runs),
# the long ones too (read-path, writes, hedge), which CI does not run.
for lab in labs/*.toml labs/*/lab.toml; do
    "$ferry" compare --lab "$lab" --plan >/dev/null
    echo "lab $lab: plan checked"
done
