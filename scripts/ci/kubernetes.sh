#!/usr/bin/env bash
# CI: a schema check of every manifest in deploy/kubernetes/ (deploy/kubernetes/README.md)
# with kubernetes-validate from PyPI, pinned, in a venv under the ignored .data/. The
# validator bundles the Kubernetes OpenAPI schemas: nothing but the package is downloaded
# (from PyPI, once), and no cluster is needed or reached.
#
# - strict: an unknown field (a typo such as `readinesProbe`) fails, as does a wrong type;
# - against KUBERNETES_VERSION (default 1.37.0, the newest the pinned validator carries);
# - a manifest whose kind has no schema (a CRD, a typo in `kind`) fails: only "passed"
#   counts;
# - kustomization.yaml (no Kubernetes schema) is checked to list every manifest except
#   ferry-merge-job.yaml, which runs after the load and is applied on its own.
#
#   scripts/ci/kubernetes.sh [DIR]   (default deploy/kubernetes)
set -euo pipefail
cd "$(dirname "$0")/../.."
started=$(date +%s)
validator_version=1.37.0
kubernetes_version=${KUBERNETES_VERSION:-1.37.0}
dir=${1:-deploy/kubernetes}
venv=.data/venv-kubernetes-validate
validate=$venv/bin/kubernetes-validate

# The venv, once per version (as scripts/setup.sh makes the Schemathesis one). Bounded: a
# PyPI that does not answer fails the step in 3 minutes rather than hanging it.
if ! "$validate" --version 2>/dev/null | grep -q "$validator_version"; then
  echo "kubernetes.sh: kubernetes-validate $validator_version in $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  timeout --kill-after=10 180 "$venv/bin/pip" install -q --disable-pip-version-check \
    "kubernetes-validate==$validator_version"
fi

manifests=()
for file in "$dir"/*.yaml; do
  [ "$(basename "$file")" = kustomization.yaml ] || manifests+=("$file")
done
[ ${#manifests[@]} -gt 0 ] || { echo "kubernetes.sh: no manifest in $dir" >&2; exit 1; }

status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
timeout --kill-after=10 60 "$validate" --strict -k "$kubernetes_version" "${manifests[@]}" \
  >"$log" 2>&1 || status=1
cat "$log"
# kubernetes-validate warns, and exits 0, on a kind it has no schema for: every resource
# of every file must have passed.
if grep -v ' passed for resource ' "$log" | grep -q .; then
  echo "kubernetes.sh: a manifest did not pass (above)" >&2
  status=1
fi
for file in "${manifests[@]}"; do
  grep -q "^INFO $file passed" "$log" || { echo "kubernetes.sh: $file: no resource passed" >&2; status=1; }
done

# kustomization.yaml lists every manifest but the merge Job, and nothing that is missing.
timeout 30 "$venv/bin/python" - "$dir" <<'PY' || status=1
import pathlib, sys, yaml
directory = pathlib.Path(sys.argv[1])
kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
listed = set(kustomization.get("resources", []))
present = {p.name for p in directory.glob("*.yaml")} - {"kustomization.yaml"}
applied_alone = {"ferry-load-job.yaml", "ferry-merge-job.yaml"}
errors = [f"kustomization.yaml lists {name}, which does not exist" for name in sorted(listed - present)]
errors += [f"kustomization.yaml does not list {name}" for name in sorted(present - listed - applied_alone)]
for error in errors:
    print(f"kubernetes.sh: {error}", file=sys.stderr)
sys.exit(1 if errors else 0)
PY

echo "kubernetes.sh: ${#manifests[@]} manifests against Kubernetes $kubernetes_version" \
  "(kubernetes-validate $validator_version, strict): $([ $status = 0 ] && echo passed || echo FAILED)" \
  "in $(( $(date +%s) - started )) s"
exit $status
