"""Policy violations for people (text, as `pulumi preview` prints them) and for CI (JSON, SARIF)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .pack_client import Violation
from .redaction import scrub
from .terminal import escape_controls, shorten

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {"mandatory": "error", "remediate": "error", "advisory": "warning"}


@dataclass(frozen=True)
class Subject:
    """What a violation is about: the object and where it came from (a YAML file or a program)."""

    ref: str
    source: str


MAX_MESSAGE = 2000
"""Characters of one message shown; a hostile value cannot turn a report into megabytes."""

def _shown(text: str, secrets: frozenset[str], *, one_line: bool = False) -> str:
    """What a report may print of pack- or input-supplied text: secrets replaced, shortened, and
    control characters written as escapes so nothing reaches the terminal raw."""
    text = shorten(scrub(text, secrets), MAX_MESSAGE)
    if one_line:
        text = text.replace("\n", " ").replace("\t", " ")
    return escape_controls(text)


def _reported(violation: Violation, secrets: frozenset[str] = frozenset()) -> str:
    # The pack sends "<policy description>\n<message>"; the message alone says what is wrong.
    head, _, rest = violation.message.partition("\n")
    return _shown(rest or head, secrets, one_line=True)


def as_text(
    violations: Sequence[Violation],
    subjects: Mapping[str, Subject],
    secrets: frozenset[str] = frozenset(),
    *,
    judged: int | None = None,
) -> str:
    counted = "" if judged is None else f" ({judged} object{'' if judged == 1 else 's'} judged)"
    if not violations:
        return f"No policy violations{counted}.\n"
    lines = ["Policy violations:"]
    for v in violations:
        subject = subjects.get(v.urn)
        where = _shown(subject.ref, secrets, one_line=True) if subject else "stack"
        lines.append(f"    [{v.enforcement_level}]  {_shown(v.policy_name, secrets, one_line=True)}  ({where})")
        lines.append(f"        {_reported(v, secrets)}")
    counts = {level: sum(v.enforcement_level == level for v in violations) for level in ("mandatory", "advisory")}
    lines.append(f"{counts['mandatory']} mandatory, {counts['advisory']} advisory violation(s){counted}")
    return "\n".join(lines) + "\n"


def as_json(
    violations: Sequence[Violation], subjects: Mapping[str, Subject], secrets: frozenset[str] = frozenset()
) -> str:
    items = [
        {
            "policy": v.policy_name,
            "pack": v.pack_name,
            "level": v.enforcement_level,
            "object": subjects[v.urn].ref if v.urn in subjects else None,
            "source": subjects[v.urn].source if v.urn in subjects else None,
            "urn": v.urn,
            "message": _reported(v, secrets),
        }
        for v in violations
    ]
    return json.dumps(items, indent=2, sort_keys=True) + "\n"


def as_sarif(
    violations: Sequence[Violation],
    subjects: Mapping[str, Subject],
    version: str,
    secrets: frozenset[str] = frozenset(),
) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for v in violations:
        rules.setdefault(v.policy_name, {"id": v.policy_name, "shortDescription": {"text": v.description}})
        subject = subjects.get(v.urn)
        result: dict[str, Any] = {
            "ruleId": v.policy_name,
            "level": _SARIF_LEVEL.get(v.enforcement_level, "note"),
            "message": {"text": _reported(v, secrets)},
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
