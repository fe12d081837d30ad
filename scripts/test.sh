#!/usr/bin/env bash
# Set up, then every check: lint, strict typing, and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/mermaid.sh  # mermaid's own parser, for tests/test_diagram.py
crds="${ISTIO_CRDS:-../shared/reference/istio-crds/crd-all.gen.yaml}"
if [ ! -f "$crds" ]; then
  echo "error: Istio CRDs not found at ISTIO_CRDS=$crds (the conformance tests need them)" >&2
  exit 1
fi
# Absolute: policy packs run with their own directory as working directory.
export ISTIO_CRDS="$(cd "$(dirname "$crds")" && pwd)/$(basename "$crds")"
.venv/bin/ruff check .
.venv/bin/mypy --strict pulumi_istio_egress
.venv/bin/python -m pytest -q "$@"
