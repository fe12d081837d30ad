"""Collecting findings while walking an untrusted manifest.

The manifests come from users (or from Pulumi inputs), so any field may be missing, ``None`` or of
the wrong JSON type. The accessors here return a value of the expected type or ``None``; a value of
the wrong type is reported once, as the Kubernetes API server would reject it before istiod ever
sees it, and the checks that need it are skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..findings import Finding
from ..gosyntax import go_quote
from ..jsontypes import json_type, whole_number

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def sub(path: str, key: str) -> str:
    """``path.key``, or ``path["odd/key"]`` when the key is not a plain identifier."""
    if _IDENT.fullmatch(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def at(path: str, index: int) -> str:
    return f"{path}[{index}]"


def q(value: object) -> str:
    """A double-quoted string, as Go's ``%q`` prints it (istiod's messages use it)."""
    return go_quote(str(value))


def golist(items: list[str]) -> str:
    """A string list as Go's ``%v`` prints it: ``[a b c]``."""
    return "[" + " ".join(items) + "]"



_ARTICLE = {
    "object": "an object",
    "array": "a list",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "number": "a number",
}


class Report:
    """The findings for one manifest, plus the object metadata istiod's checks consult."""

    def __init__(
        self, namespace: str, name: str | None, labels: Mapping[str, Any], annotations: Mapping[str, Any]
    ) -> None:
        self.namespace = namespace
        self.name = name
        self.labels = labels
        self.annotations = annotations
        self.findings: list[Finding] = []
        self._seen: set[tuple[str, str]] = set()
        self._wrong: set[str] = set()
        self._type_findings: set[int] = set()

    def add(self, path: str, value: Any, message: str, fix: str) -> None:
        # Several checks may read the same field; a finding is still reported once.
        if (path, message) in self._seen or self._under_wrong(path):
            return
        self._seen.add((path, message))
        self.findings.append(Finding(path=path, value=value, message=message, fix=fix))

    def wrong_type(self, path: str, value: Any, expected: str) -> None:
        """Report a value of the wrong JSON type; later findings at or below ``path`` would only be
        consequences of it (the checks see the field as unset), so they are dropped."""
        before = len(self.findings)
        self.add(
            path,
            value,
            f"must be of type {expected}, not {json_type(value)}",
            f"Write {path} as {_ARTICLE.get(expected, expected)}",
        )
        if len(self.findings) > before:
            self._type_findings.add(before)
        self._wrong.add(path)

    def result(self) -> list[Finding]:
        """The findings, without those a wrongly typed field caused before it was found to be wrong."""
        return [f for i, f in enumerate(self.findings) if i in self._type_findings or not self._under_wrong(f.path)]

    def _under_wrong(self, path: str) -> bool:
        return bool(self._wrong) and any(p in self._wrong for p in _self_and_ancestors(path))

    # -- typed accessors: ``None`` means absent (JSON null counts as absent, as in protobuf JSON) --

    def obj(self, parent: Mapping[str, Any] | None, key: str, path: str) -> Mapping[str, Any] | None:
        value = _get(parent, key)
        if value is None or isinstance(value, Mapping):
            return value
        self.wrong_type(sub(path, key), value, "object")
        return None

    def arr(self, parent: Mapping[str, Any] | None, key: str, path: str) -> list[Any] | None:
        value = _get(parent, key)
        if value is None or isinstance(value, list):
            return value
        if is_array(value):  # e.g. pulumi-policy's read-only list proxy
            return list(value)
        self.wrong_type(sub(path, key), value, "array")
        return None

    def string(self, parent: Mapping[str, Any] | None, key: str, path: str) -> str | None:
        value = _get(parent, key)
        if value is None or isinstance(value, str):
            return value
        self.wrong_type(sub(path, key), value, "string")
        return None

    def text(self, parent: Mapping[str, Any] | None, key: str, path: str) -> str:
        """A string field where absent means empty, as for a protobuf ``string``."""
        return self.string(parent, key, path) or ""

    def integer(self, parent: Mapping[str, Any] | None, key: str, path: str) -> int | None:
        value = _get(parent, key)
        if value is None:
            return None
        number = whole_number(value)
        if number is None:
            self.wrong_type(sub(path, key), value, "integer")
        return number

    def integer_in(
        self, parent: Mapping[str, Any] | None, key: str, path: str, bounds: tuple[int, int], message: str, fix: str
    ) -> None:
        """An integer field that, when set, must lie within ``bounds`` (inclusive); ``message``'s
        ``{}`` shows the value."""
        value = self.integer(parent, key, path)
        if value is not None and not bounds[0] <= value <= bounds[1]:
            self.add(sub(path, key), value, message.format(value), fix)

    def number(self, parent: Mapping[str, Any] | None, key: str, path: str) -> float | None:
        value = _get(parent, key)
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        self.wrong_type(sub(path, key), value, "number")
        return None

    def flag(self, parent: Mapping[str, Any] | None, key: str, path: str) -> bool:
        value = _get(parent, key)
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.wrong_type(sub(path, key), value, "boolean")
        return False

    def enum(self, parent: Mapping[str, Any] | None, key: str, path: str, allowed: tuple[str, ...]) -> str | None:
        """An enum field; absent gives the first (zero) value, unknown values give ``None``."""
        value = _get(parent, key)
        if value is None:
            return allowed[0]
        if not isinstance(value, str):
            self.wrong_type(sub(path, key), value, "string")
            return None
        if value not in allowed:
            self.add(
                sub(path, key),
                value,
                f"unknown value {q(value)}, expected one of {', '.join(allowed)}",
                f"Use one of {', '.join(allowed)}",
            )
            return None
        return value

    def objs(self, parent: Mapping[str, Any] | None, key: str, path: str) -> list[tuple[int, Mapping[str, Any] | None]]:
        """``(index, item)`` for a list of objects; ``None`` items are kept (istiod reports some)."""
        items = self.arr(parent, key, path)
        out: list[tuple[int, Mapping[str, Any] | None]] = []
        for i, item in enumerate(items or ()):
            if item is None or isinstance(item, Mapping):
                out.append((i, item))
            else:
                self.wrong_type(at(sub(path, key), i), item, "object")
        return out

    def entries(
        self, parent: Mapping[str, Any] | None, key: str, path: str, null_message: str, fix: str
    ) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """``(path, item)`` for the objects of a list; a null item is reported as istiod words it."""
        for i, item in self.objs(parent, key, path):
            where = at(sub(path, key), i)
            if item is None:
                self.add(where, None, null_message, fix)
            else:
                yield where, item

    def required(
        self, parent: Mapping[str, Any] | None, key: str, path: str, message: str, fix: str
    ) -> Mapping[str, Any] | None:
        """A message field istiod requires: absent or null, it is reported with ``message``."""
        value = self.obj(parent, key, path)
        if value is None:
            self.add(sub(path, key), None, message, fix)
        return value

    def require_items(self, parent: Mapping[str, Any] | None, key: str, path: str, message: str, fix: str) -> None:
        """A repeated field istiod wants at least one item in: absent, null or ``[]`` is reported."""
        if empty_list(parent, key):
            self.add(sub(path, key), None, message, fix)

    def strs(self, parent: Mapping[str, Any] | None, key: str, path: str) -> list[tuple[int, str]]:
        """``(index, item)`` for a list of strings; other items are reported and left out."""
        items = self.arr(parent, key, path)
        out: list[tuple[int, str]] = []
        for i, item in enumerate(items or ()):
            if isinstance(item, str):
                out.append((i, item))
            else:
                self.wrong_type(at(sub(path, key), i), item, "string")
        return out

    def str_map(self, parent: Mapping[str, Any] | None, key: str, path: str) -> dict[str, str]:
        """A ``map<string, string>``; non-string values are reported and left out."""
        value = self.obj(parent, key, path)
        out: dict[str, str] = {}
        for k, v in (value or {}).items():
            if isinstance(v, str):
                out[str(k)] = v
            else:
                self.wrong_type(sub(sub(path, key), str(k)), v, "string")
        return out

    def int_map(self, parent: Mapping[str, Any] | None, key: str, path: str) -> dict[str, int]:
        """A ``map<string, uint32>``; non-integer values are reported and left out."""
        value = self.obj(parent, key, path)
        out: dict[str, int] = {}
        for k, v in (value or {}).items():
            number = whole_number(v)
            if number is None:
                self.wrong_type(sub(sub(path, key), str(k)), v, "integer")
            else:
                out[str(k)] = number
        return out


def _get(parent: Mapping[str, Any] | None, key: str) -> Any:
    return parent.get(key) if isinstance(parent, Mapping) else None


def present(parent: Mapping[str, Any] | None, key: str) -> bool:
    """Whether a message field is set (a non-null object, as a non-nil Go pointer)."""
    return isinstance(parent, Mapping) and isinstance(parent.get(key), Mapping)


def nonempty(parent: Mapping[str, Any] | None, key: str) -> bool:
    """Whether a repeated field has items; protobuf JSON decodes ``[]`` to the same nil list as absent."""
    return isinstance(parent, Mapping) and is_array(parent.get(key)) and len(parent[key]) > 0


def empty_list(parent: Mapping[str, Any] | None, key: str) -> bool:
    """Absent, null or ``[]``: the cases istiod sees as an empty repeated field (a wrong type is
    reported by the accessors instead)."""
    value = parent.get(key) if isinstance(parent, Mapping) else None
    return value is None or (is_array(value) and len(value) == 0)


_PATH_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[.\[]')


def _self_and_ancestors(path: str) -> list[str]:
    """``a.b[0]["x.y"]`` -> ``a``, ``a.b``, ``a.b[0]``, ``a.b[0]["x.y"]`` (dots inside a quoted key are
    not separators, so a huge key cannot multiply the prefixes)."""
    cuts = [m.start() for m in _PATH_TOKEN.finditer(path) if m.group() in ".[" and m.start()]
    return [path[:c] for c in cuts] + [path]


def is_array(value: object) -> bool:
    """A JSON array: any sequence but a string (pulumi-policy hands lists over as read-only proxies)."""
    return isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)
