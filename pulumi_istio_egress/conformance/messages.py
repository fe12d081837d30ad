"""The findings of one validation (:class:`Run`) and the API server's wording for them."""

from __future__ import annotations

from typing import Any

from ..findings import Finding

COULD_NOT_EVALUATE = "could not evaluate"
"""Prefix of every finding for a check this validator cannot perform (never a silent pass)."""

RULES_NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)
"""The API server's note when type/enum/required/size errors keep CEL rules from running."""

UNEVALUATED_FIX = (
    "Check this object against a real API server (`kubectl apply --dry-run=server`); "
    "this validator cannot evaluate the check"
)

TYPE_DESC = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true/false)",
    "object": "an object (a mapping)",
    "array": "an array (a list)",
}
"""How a finding's fix names a JSON type."""


def is_unevaluated(finding: Finding) -> bool:
    """True for a finding that reports a check this validator could not perform."""
    return finding.message.startswith(COULD_NOT_EVALUATE)


class CelError(Exception):
    """A CEL runtime error the API server raises as well (bad URL, bad duration, ...)."""


class Run:
    """Findings of one validation (or of one probe of a composition branch)."""

    __slots__ = ("cel_findings", "failed", "findings", "probe", "unchecked")

    def __init__(self, probe: bool = False) -> None:
        self.probe = probe  # only whether anything failed matters
        self.failed = False
        self.findings: list[Finding] = []
        self.cel_findings: list[Finding] = []
        self.unchecked: str | None = None

    def add(self, path: str, value: Any, message: str, fix: str) -> None:
        self.failed = True
        if not self.probe:
            self.findings.append(Finding(path or "<root>", value, message, fix))


def in_body(path: str, detail: str) -> str:
    return f"{path or '<root>'} in body {detail}"


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def join_path(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name
