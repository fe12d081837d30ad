"""The istio-egress policy pack, shipped inside the package.

``pulumi-istio-egress pack-dir`` prints ``PACK_DIR``, so an installed package is enough for
``pulumi preview --policy-pack "$(pulumi-istio-egress pack-dir)"`` and for ``check``. Its
PulumiPolicy.yaml names no virtualenv: the pack runs in the Python that has this package (with the
``[policy]`` extra) installed, the one ``python3`` on PATH (or ``$PULUMI_PYTHON_CMD``) finds.
"""

from __future__ import annotations

from pathlib import Path

PACK_DIR = Path(__file__).resolve().parent


def serve() -> None:
    """Serve the pack over the Analyzer protocol; the pulumi-policy constructor never returns."""
    from ..extras import requires_extra

    with requires_extra("the istio-egress policy pack"):
        from pulumi_policy import Policy, PolicyPack

    from ..policies.pack import PACK_NAME, policies
    from ..policies.sdk import tune_gc

    tune_gc()
    made: list[Policy] = [*policies()]
    PolicyPack(name=PACK_NAME, policies=made)
