"""Imports stay lazy: a Pulumi program importing the component loads no CLI, pack client or policy
code, and the command line loads a command's machinery only when that command runs."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pulumi_istio_egress.cli", "pulumi_istio_egress.plugin_process", "pulumi_istio_egress.cli.program_process",
         "pulumi_istio_egress.policies", "pulumi_istio_egress.webhook", "pulumi_istio_egress.conformance",
         "pulumi_policy", "jsonschema", "cel")


@pytest.mark.parametrize(
    ("code", "allowed"),
    [
        pytest.param("import pulumi_istio_egress", (), id="the-component"),
        pytest.param("from pulumi_istio_egress.cli import main; main.build_parser()",
                     ("pulumi_istio_egress.cli", "pulumi_istio_egress.cli.main", "pulumi_istio_egress.cli.terminal"),
                     id="the-command-line-parser"),
    ],
)
def test_nothing_heavy_is_imported_before_it_is_needed(code: str, allowed: tuple[str, ...]) -> None:
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    loaded = [m for m in json.loads(result.stdout) if m.startswith(HEAVY) and m not in allowed]
    assert loaded == []
