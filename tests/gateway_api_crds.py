"""Gateway API v1.6.1's CRDs for tests: ``$GATEWAY_API_CRDS_DIR`` or the shared reference.

A missing file fails the test that needs it; it never skips.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from pulumi_istio_egress.conformance import CrdSet

GATEWAY_API_CRDS_ENV = "GATEWAY_API_CRDS_DIR"
REPO_ROOT = Path(__file__).resolve().parents[1]
CRDS_DIR = Path(os.environ.get(GATEWAY_API_CRDS_ENV) or REPO_ROOT.parent / "shared/reference/gateway-api-crds")
CHANNELS = ("standard", "experimental")


def channel_path(channel: str) -> Path:
    return CRDS_DIR / f"gateway-api-v1.6.1-{channel}.yaml"


@functools.cache
def _load(path: Path) -> CrdSet:
    return CrdSet.load(path)


def gateway_api_crds(channel: str) -> CrdSet:
    """One channel's CRDs; a missing file is a test failure, not a skip."""
    path = channel_path(channel)
    if not path.is_file():
        pytest.fail(
            f"Gateway API CRDs not found at {path}: set ${GATEWAY_API_CRDS_ENV} to the directory holding "
            "gateway-api-v1.6.1-standard.yaml and gateway-api-v1.6.1-experimental.yaml",
            pytrace=False,
        )
    return _load(path)
