"""The pack's AnalyzeStack stays linear in the stack: converting props leaves no garbage only the cyclic
collector can free, and generation 0 is sized to the request (``policies/sdk.py``)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from pulumi_policy.proxy import unknown_checking_proxy

from pulumi_istio_egress.policies import sdk

PROPS = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
         "metadata": {"name": "a", "labels": {"x": "y"}},
         "spec": {"hosts": ["api.example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}}


def test_unwrapping_props_leaves_no_cyclic_garbage() -> None:
    proxied = [unknown_checking_proxy(dict(PROPS)) for _ in range(50)]
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        unwrapped = [sdk.unwrap(p) for p in proxied]
        del unwrapped
        assert gc.collect() == 0  # a recursive closure left 4 unreachable objects per call
    finally:
        if enabled:
            gc.enable()


@pytest.fixture
def thresholds() -> Iterator[None]:
    saved, tuned = gc.get_threshold(), sdk._tuned
    try:
        yield
    finally:
        gc.set_threshold(*saved)
        sdk._tuned = tuned


@pytest.mark.parametrize(("tuned", "resources", "expected"), [
    (False, 10_000, (700, 10, 10)),     # not a pack process tuned by tune_gc: left alone
    (True, 10, (100_000, 10, 10)),      # small stacks keep tune_gc's threshold
    (True, 1_000, (100_000, 10, 10)),
    (True, 10_000, (1_000_000, 10, 10)),  # 100 live containers per resource
])
def test_young_generation_is_sized_to_the_stack(thresholds: None, tuned: bool, resources: int,
                                                expected: tuple[int, int, int]) -> None:
    gc.set_threshold(700, 10, 10)
    sdk._tuned = tuned
    sdk.size_young_generation(resources)
    assert gc.get_threshold() == expected
