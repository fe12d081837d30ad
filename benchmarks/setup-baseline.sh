#!/usr/bin/env bash
# An earlier pulumi-istio-egress, installed (not editable) into its own virtualenv, for
# `benchmarks/run.py --baseline DIR`: by default commit af45d0a, the code issue 17 measured
# ("check on a 10k-object YAML file takes ~60 s"). Usage: benchmarks/setup-baseline.sh [COMMIT [DIR]]
# Idempotent; DIR defaults to ../venv-baseline-COMMIT beside the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
commit="${1:-af45d0a}"
venv="${2:-../venv-baseline-$commit}"
src="$(mktemp -d)"
trap 'rm -rf "$src"' EXIT
git archive "$commit" | tar -x -C "$src"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$src[policy]"
echo "$venv"
