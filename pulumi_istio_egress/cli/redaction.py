"""Secret values, as Pulumi treats them: marked wherever they travel, never shown unless asked.

``render`` writes ``[secret]`` in place of a secret unless ``--show-secrets`` (Pulumi's own
convention for ``pulumi stack output`` and previews); the Analyzer wire keeps the marker, so the
pack knows; reports replace any secret text that comes back inside a message. Pure data
functions, no Pulumi import: the component, the renderer and the checker share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["REDACTED", "Secret", "redact", "reveal", "scrub", "secret_texts"]

REDACTED = "[secret]"
# Shorter secrets are not searched for in messages: replacing every "a" would garble them, and
# a one- or two-character secret is no secret. Said in README.
MIN_SCRUBBED = 3


@dataclass(frozen=True)
class Secret:
    """A property value the engine treats as secret."""

    value: Any


def _walk(value: Any, secret: Any) -> Any:
    """``value`` with each :class:`Secret` replaced by ``secret(inner)``; iterative, any depth."""
    result: list[Any] = []
    stack: list[tuple[Any, Any, Any]] = [(value, result, None)]
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, Secret):
            out: Any = secret(item.value)
        elif isinstance(item, dict):
            out = {}
            stack.extend((v, out, k) for k, v in item.items())
        elif isinstance(item, (list, tuple)):
            out = [None] * len(item)
            stack.extend((v, out, i) for i, v in enumerate(item))
        else:
            out = item
        if key is None and parent is result:
            result.append(out)
        else:
            parent[key] = out
    return result[0]


def redact(value: Any) -> Any:
    """Every secret replaced by ``[secret]``."""
    return _walk(value, lambda _inner: REDACTED)


def reveal(value: Any) -> Any:
    """Every secret replaced by its value (for ``--show-secrets`` and for code that needs plain data)."""
    return _walk(value, lambda inner: reveal(inner))


def secret_texts(values: Iterable[Any]) -> frozenset[str]:
    """The text of every string (or number) inside a secret, as a message could quote it."""
    found: set[str] = set()
    for value in values:
        for inner in _secrets(value):
            for leaf in _leaves(reveal(inner)):
                text = leaf if isinstance(leaf, str) else str(leaf)
                if len(text) >= MIN_SCRUBBED:
                    found.add(text)
    return frozenset(found)


def _secrets(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Secret):
            yield item.value
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _leaves(value: Any) -> Iterator[Any]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool):
            yield item


def scrub(text: str, secrets: frozenset[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``[secret]``, longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


# Pulumi's secret signature (sdk/go/common/resource/sig): how a secret travels as JSON.
SIG_KEY = "4dabf18193072939515e22adb298388d"
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def to_json(value: Any) -> Any:
    """JSON-able data with every :class:`Secret` written as Pulumi writes secrets on the wire."""
    return _walk(value, lambda inner: {SIG_KEY: SECRET_SIG, "value": to_json(inner)})


def from_json(value: Any) -> Any:
    """The inverse of :func:`to_json`: signed mappings become :class:`Secret` again."""
    if isinstance(value, dict):
        if value.get(SIG_KEY) == SECRET_SIG:
            return Secret(from_json(value.get("value")))
        return {key: from_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [from_json(item) for item in value]
    return value
