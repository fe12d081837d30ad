#!/usr/bin/env bash
# The main job: set up, render the sample stack (Pulumi.dev.yaml) to Kubernetes YAML offline, and
# check it against the policy pack exactly as `pulumi preview --policy-pack policy` would.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
crds="${ISTIO_CRDS:-../shared/reference/istio-crds/crd-all.gen.yaml}"
if [ -f "$crds" ]; then export ISTIO_CRDS="$(cd "$(dirname "$crds")" && pwd)/$(basename "$crds")"; fi
mkdir -p out
.venv/bin/pulumi-istio-egress render . --stack dev > out/dev.yaml
echo "rendered $(grep -c '^kind:' out/dev.yaml) objects to out/dev.yaml" >&2
.venv/bin/pulumi-istio-egress diagram . --stack dev > out/dev.mmd
.venv/bin/pulumi-istio-egress check . --stack dev --policy-pack policy --policy-config policy-config.example.json
