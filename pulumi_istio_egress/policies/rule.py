"""A policy rule: metadata plus a pure function over plain manifest dicts that yields findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..findings import Finding, Manifest

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "disabled"]
Config = Mapping[str, Any]

DOCS_URL = "https://github.com/pulumi-istio-egress/pulumi-istio-egress/blob/main/README.md"
"""Where the rules are documented: every rule's ``url`` is this page's section for it."""


ResourceCheck = Callable[[Manifest, Config], Iterable[Finding]]
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


@dataclass(frozen=True)
class StackRule(_Rule):
    """Judges all objects of a stack together; findings say which object they are about."""

    check: StackCheck
    applies: Callable[[Sequence[Manifest], Config], str | None] | None = field(default=None, kw_only=True)
    """As for resource rules, for the whole stack."""
