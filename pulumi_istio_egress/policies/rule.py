"""A policy rule: metadata plus a pure function over plain manifest dicts that yields findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..findings import Finding, Manifest
from .catalog import DOCS_URL as DOCS_URL  # re-exported: where the rules are documented

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "disabled"]
Config = Mapping[str, Any]


ResourceCheck = Callable[[Manifest, Config], Iterable[Finding]]
Remediation = Callable[[Manifest, Config], Manifest | None]
"""A mechanical fix: the manifest with the one right value set (a new dict), or ``None`` when the
right value is not certain from the object alone. Pure; never mutates its argument."""
StackCheck = Callable[[Sequence[Manifest], Config], Iterable[tuple[Manifest, Finding]]]


@dataclass(frozen=True)
class _Rule:
    """What every rule has: pulumi-policy's metadata for it."""

    name: str
    description: str
    severity: Severity
    enforcement: Enforcement
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, kw_only=True)
    """JSON-schema ``properties`` of the rule's config (defaults included)."""
    remediation: str = field(default="", kw_only=True)
    """What to do about a finding in general (pulumi-policy's ``remediation_steps``); each finding
    also carries its own ``fix``."""

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}

    @property
    def url(self) -> str:
        """The rule's section of the documentation."""
        return f"{DOCS_URL}#{self.name}"


@dataclass(frozen=True)
class ResourceRule(_Rule):
    """Judges one Kubernetes object at a time."""

    check: ResourceCheck
    applies: Callable[[Manifest, Config], str | None] | None = field(default=None, kw_only=True)
    """Why the rule has nothing to judge in this object under this config (an unset allow-list, a
    kind it does not read), or ``None``; the pack says it as pulumi-policy's ``not_applicable``.
    ``check`` yields nothing then too, so callers of ``check`` alone need not ask."""
    note: Callable[[Config], str | None] | None = field(default=None, kw_only=True)
    """A caveat about how the rule judged under this config, said once at the end of the run (at
    advisory level) with the number of objects it applied to, e.g. a validation layer that did not run."""
    remediate: Remediation | None = field(default=None, kw_only=True)
    """pulumi-policy's remediation for this rule (``policies/remediations.py``). It runs only when the
    pack's config sets the rule's ``enforcementLevel`` to ``remediate``: pulumi-policy's Remediate
    call skips every policy at another level, so remediations are off by default."""

    def remediated(self, manifest: Manifest, config: Config) -> Manifest | None:
        """``manifest`` with this rule's remediation applied, or ``None`` when there is nothing to
        apply: no remediation, no finding to fix, a remediation that is not certain here, or one
        that would not clear a finding of this rule (a fix must fix)."""
        if self.remediate is None:
            return None
        before = list(self.check(manifest, config))
        if not before:
            return None
        fixed = self.remediate(manifest, config)
        if fixed is None or fixed == manifest:
            return None
        return fixed if len(list(self.check(fixed, config))) < len(before) else None


@dataclass(frozen=True)
class StackRule(_Rule):
    """Judges all objects of a stack together; findings say which object they are about."""

    check: StackCheck
    applies: Callable[[Sequence[Manifest], Config], str | None] | None = field(default=None, kw_only=True)
    """As for resource rules, for the whole stack."""
