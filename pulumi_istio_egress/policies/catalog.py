"""What the pack registers for each rule, without importing the rule: its pulumi-policy metadata, read
from ``catalog.json``.

The pack's start-up (spawn to GetAnalyzerInfo answered) is on every ``pulumi preview``; importing the
rules' modules and the models they read was most of ours. The catalog is written from the ``RULE``
objects themselves (``python -m pulumi_istio_egress.policies.catalog --write``), and
``tests/test_catalog.py`` fails when it no longer says what they say.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal, TypedDict

CATALOG = Path(__file__).with_name("catalog.json")

DOCS_URL = "https://github.com/pulumi-istio-egress/pulumi-istio-egress/blob/main/README.md"
"""Where the rules are documented: every rule's ``url`` is this page's section for it."""

REMEDIATE_STEP = ("With enforcementLevel 'remediate' the pack applies the fix itself where the right value is "
                  "certain from the object alone (see the README's Remediations).")


class Entry(TypedDict):
    """One rule, as the pack registers it."""

    module: str
    """The module under ``pulumi_istio_egress.policies`` whose ``RULE`` this is."""
    kind: Literal["resource", "stack"]
    name: str
    description: str
    severity: str
    enforcement: str
    url: str
    remediationSteps: str | None
    """pulumi-policy's ``remediation_steps``: the rule's own, and for a rule that can remediate, how."""
    configSchema: dict[str, dict[str, Any]]
    remediates: bool
    """Whether the rule has a remediation (pulumi-policy's ``remediate``)."""


def entry(module: str, rule: Any) -> Entry:
    """The catalog entry of ``rule`` (a ``ResourceRule`` or ``StackRule``), the ``RULE`` of ``module``."""
    from .rule import ResourceRule

    remediates = isinstance(rule, ResourceRule) and rule.remediate is not None
    steps = " ".join(part for part in (rule.remediation, REMEDIATE_STEP if remediates else "") if part)
    return {
        "module": module, "kind": "resource" if isinstance(rule, ResourceRule) else "stack", "name": rule.name,
        "description": rule.description, "severity": rule.severity, "enforcement": rule.enforcement,
        "url": rule.url, "remediationSteps": steps or None,
        "configSchema": {k: dict(v) for k, v in rule.config_schema.items()}, "remediates": remediates,
    }


def built() -> list[Entry]:
    """The catalog as the rules say it now (imports every rule)."""
    from . import RESOURCE_RULE_MODULES, STACK_RULE_MODULES, rule_of

    return [entry(m, rule_of(m)) for m in (*RESOURCE_RULE_MODULES, *STACK_RULE_MODULES)]


def text(entries: list[Entry]) -> str:
    return json.dumps(entries, indent=2, sort_keys=True) + "\n"


def load() -> list[Entry]:
    """The catalog as shipped."""
    entries: list[Entry] = json.loads(CATALOG.read_text(encoding="utf-8"))
    return entries


def main(argv: list[str]) -> int:
    if argv == ["--write"]:
        CATALOG.write_text(text(built()), encoding="utf-8")
        return 0
    print("usage: python -m pulumi_istio_egress.policies.catalog --write", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
