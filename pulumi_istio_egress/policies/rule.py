"""A policy rule: metadata plus a pure function over plain manifest dicts that yields findings."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ..findings import Finding, Manifest

Severity = Literal["low", "medium", "high", "critical"]
Enforcement = Literal["advisory", "mandatory", "disabled"]
Config = Mapping[str, Any]

ResourceCheck = Callable[[Manifest, Config], Iterable[Finding]]
StackCheck = Callable[[Sequence[Manifest], Config], Iterable[tuple[Manifest, Finding]]]


@dataclass(frozen=True)
class ResourceRule:
    """Judges one Kubernetes object at a time."""

    name: str
    description: str
    severity: Severity
    enforcement: Enforcement
    check: ResourceCheck
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """JSON-schema ``properties`` of the rule's config (defaults included)."""

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}


@dataclass(frozen=True)
class StackRule:
    """Judges all objects of a stack together; findings say which object they are about."""

    name: str
    description: str
    severity: Severity
    enforcement: Enforcement
    check: StackCheck
    config_schema: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {k: v["default"] for k, v in self.config_schema.items() if "default" in v}
