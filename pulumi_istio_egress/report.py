"""Policy violations for people (text, as `pulumi preview` prints them) and for CI (JSON, SARIF)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .analyzer import Violation

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning"}


@dataclass(frozen=True)
class Subject:
    """What a violation is about: the object and where it came from (a YAML file or a program)."""

    ref: str
    source: str


def _reported(violation: Violation) -> str:
    # The pack sends "<policy description>\n<message>"; the message alone says what is wrong.
    head, _, rest = violation.message.partition("\n")
    return rest or head


def as_text(violations: Sequence[Violation], subjects: Mapping[str, Subject]) -> str:
    if not violations:
        return "No policy violations.\n"
    lines = ["Policy violations:"]
    for v in violations:
        subject = subjects.get(v.urn)
        where = subject.ref if subject else "stack"
        lines.append(f"    [{v.enforcement_level}]  {v.policy_name}  ({where})")
        lines.append(f"        {_reported(v)}")
    counts = {level: sum(v.enforcement_level == level for v in violations) for level in ("mandatory", "advisory")}
    lines.append(f"{counts['mandatory']} mandatory, {counts['advisory']} advisory violation(s)")
    return "\n".join(lines) + "\n"


def as_json(violations: Sequence[Violation], subjects: Mapping[str, Subject]) -> str:
    items = [
        {
            "policy": v.policy_name,
            "pack": v.pack_name,
            "level": v.enforcement_level,
            "object": subjects[v.urn].ref if v.urn in subjects else None,
            "source": subjects[v.urn].source if v.urn in subjects else None,
            "urn": v.urn,
            "message": _reported(v),
        }
        for v in violations
    ]
    return json.dumps(items, indent=2, sort_keys=True) + "\n"


def as_sarif(violations: Sequence[Violation], subjects: Mapping[str, Subject], version: str) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for v in violations:
        rules.setdefault(v.policy_name, {"id": v.policy_name, "shortDescription": {"text": v.description}})
        subject = subjects.get(v.urn)
        result: dict[str, Any] = {
            "ruleId": v.policy_name,
            "level": _SARIF_LEVEL.get(v.enforcement_level, "note"),
            "message": {"text": _reported(v)},
        }
        if subject is not None:
            result["locations"] = [{
                "physicalLocation": {"artifactLocation": {"uri": subject.source}},
                "logicalLocations": [{"fullyQualifiedName": subject.ref, "kind": "resource"}],
            }]
        results.append(result)
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "pulumi-istio-egress", "version": version,
                                "rules": [rules[k] for k in sorted(rules)]}},
            "results": results,
        }],
    }
    return json.dumps(log, indent=2, sort_keys=True) + "\n"
