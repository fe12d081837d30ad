#!/usr/bin/env bash
# checkov, for the `check` section of benchmarks/run.py, in its own virtualenv (its dependencies
# would clash with ours). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv-checkov
.venv-checkov/bin/python -m pip install --quiet --disable-pip-version-check checkov
