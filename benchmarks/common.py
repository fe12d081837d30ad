"""Shared pieces of the benchmarks: the routes they register, subprocess runs, statistics, machine facts."""

from __future__ import annotations

import datetime as _dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYTHON = str(ROOT / ".venv" / "bin" / "python")
if not Path(PYTHON).exists():
    PYTHON = sys.executable
CRDS = os.environ.get("ISTIO_CRDS") or str(ROOT.parent / "shared" / "reference" / "istio-crds" / "crd-all.gen.yaml")

# The CLI's modules the benchmarks use, each name with the module that holds it. This is the only place in
# benchmarks/ that names those modules (they moved once, into pulumi_istio_egress/cli/): a move changes
# these lines and nothing else. Resolved on first use (`from common import to_yaml`, PEP 562), so a worker
# that needs none of them (registration) does not load them into the heap it measures.
_CLI_NAMES: dict[str, str] = {
    "PolicyPackProcess": "pulumi_istio_egress.cli.pack_client",
    "Resource": "pulumi_istio_egress.cli.pack_client",
    "reconcile_config": "pulumi_istio_egress.cli.pack_client",
    "_struct": "pulumi_istio_egress.cli.pack_client.wire",
    "render_program": "pulumi_istio_egress.cli.render",
    "to_yaml": "pulumi_istio_egress.cli.render",
}


def __getattr__(name: str) -> Any:
    if name in _CLI_NAMES:
        return getattr(import_module(_CLI_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

# One route of each core pattern, in rotation, so every benchmark exercises the same mix:
# PASSTHROUGH (5 objects), SIMPLE origination with authz (6), SIMPLE termination (5), MUTUAL (5).
PATTERNS: tuple[dict[str, Any], ...] = (
    {"tls_mode": "PASSTHROUGH", "client_namespaces": ["payments"]},
    {"tls_mode": "SIMPLE", "client_namespaces": ["ci"], "authorization_policy": True},
    {"tls_mode": "SIMPLE", "client_namespaces": ["alerts"], "terminate_credential_name": "egress-inspection-cert"},
    {"tls_mode": "MUTUAL", "client_namespaces": ["payments"], "client_credential_name": "bank-client-cert"},
)


def route_args(i: int) -> dict[str, Any]:
    """The i-th benchmark route's EgressRouteArgs (plain values)."""
    return {"host": f"api-{i}.example.com", **PATTERNS[i % len(PATTERNS)]}


def routes(n: int) -> dict[str, dict[str, Any]]:
    """``{name: args}`` for n routes, names sorting in declaration order."""
    return {f"r{i:05d}": route_args(i) for i in range(n)}


def run_json(argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 600) -> dict[str, Any]:
    """Run a worker in a fresh interpreter (no Pulumi global state carried over); parse its last stdout line."""
    proc = subprocess.run(
        [PYTHON, *argv], cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=env or dict(os.environ)
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


class GcClock:
    """Wall time spent in CPython's cyclic garbage collector from now on (``gc.callbacks``): GC is part of
    every figure (never switched off on our side), and this says how much of it was GC."""

    def __init__(self) -> None:
        self.total = 0.0
        self.collections = 0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._start
            self.collections += 1


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def machine() -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    version = subprocess.run([PYTHON, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": version,
        "platform": platform.platform(),
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
