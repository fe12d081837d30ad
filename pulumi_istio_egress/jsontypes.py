"""JSON type names of Python values, as Kubernetes and istiod word them in errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_EXACT: dict[type, str] = {
    dict: "object", list: "array", tuple: "array", str: "string", bool: "boolean", int: "integer",
    float: "number", type(None): "null",
}


def json_type(value: Any) -> str:
    """``object``, ``array``, ``string``, ``boolean``, ``integer``, ``number`` or ``null``; else the
    Python type's name. Any non-string sequence is an array (pulumi-policy hands lists over as
    read-only proxies)."""
    exact = _EXACT.get(type(value))  # fast path: isinstance on ABCs is slow
    if exact is not None:
        return exact
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        return "array"
    return type(value).__name__


def whole_number(value: Any) -> int | None:
    """``value`` as an ``int`` when it is a JSON integer, else ``None``.

    Pulumi hands numbers over the wire as float64, so ``443.0`` is the integer 443 here; ``443.5``,
    ``True`` and strings are not integers.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def printed_integer(value: float) -> int | None:
    """The integer Go prints for an integral float64 below 1e21, in JSON (``encoding/json``) and
    with ``%v`` alike (``150.0`` -> ``150``, ``1e3`` -> ``1000``); None for fractions, infinities
    and NaN, and from 1e21 on, where both write an exponent (``1e+21``)."""
    return int(value) if value.is_integer() and abs(value) < 1e21 else None
