#!/usr/bin/env bash
# Install mermaid's parser (tests/mermaid, pinned by package-lock.json) for the diagram tests.
# Needs node >= 18 and npm. Idempotent: skipped when node_modules matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/mermaid"
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm not found; the diagram tests parse with mermaid's own parser (install node >= 18 and npm)" >&2
  exit 1
fi
if ! cmp -s package-lock.json node_modules/.installed-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.installed-lock
fi
