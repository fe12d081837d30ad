"""What every check in the project reports: where, what was found, and how to fix it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Manifest = dict[str, Any]
"""A Kubernetes object as a plain dict: apiVersion, kind, metadata, spec (camelCase keys)."""


@dataclass(frozen=True)
class Finding:
    """One problem in one manifest.

    ``path`` is a property path into the manifest (``spec.servers[0].tls.mode``), ``value`` the
    offending value (``None`` when the problem is a missing value), ``message`` what is wrong and
    ``fix`` what to do about it.
    """

    path: str
    value: Any
    message: str
    fix: str

    def render(self) -> str:
        """One line for people: ``path: message (value). Fix: fix``."""
        shown = "" if self.value is None else f" (got {quoted(self.value)})"
        return f"{self.path}: {self.message}{shown}. Fix: {self.fix}"


MAX_QUOTED = 200
"""Characters of an offending value a message quotes: a 10 MB host must not make a 10 MB message."""


def quoted(value: Any) -> str:
    """``repr(value)``, cut to :data:`MAX_QUOTED` characters with the full length said."""
    if isinstance(value, str) and len(value) > MAX_QUOTED:
        return f"{value[:MAX_QUOTED]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= MAX_QUOTED else f"{text[:MAX_QUOTED]}... ({len(text)} characters)"


def object_ref(manifest: Manifest) -> str:
    """``Kind namespace/name`` of a manifest, tolerant of missing or malformed metadata."""
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    meta = manifest.get("metadata") if isinstance(manifest, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    namespace = meta.get("namespace") or "default"
    return f"{kind or '?'} {namespace}/{meta.get('name') or '?'}"
