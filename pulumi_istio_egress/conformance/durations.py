"""Go's ``time.ParseDuration``, which Kubernetes' CEL ``duration()`` uses."""

from __future__ import annotations

import datetime as _dt
import functools
import json
import re
from typing import Any

from .messages import CelError

_MAX_NS = (1 << 63) - 1
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def _go_duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration`` (what Kubernetes' CEL ``duration()`` uses), in nanoseconds."""

    def invalid(why: str = "invalid duration") -> CelError:
        return CelError(f"time: {why} {json.dumps(text, ensure_ascii=False)}")

    s, negative = text, False
    if s[:1] in ("-", "+"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid()
    total = 0
    while s:
        m = _DURATION_PART.match(s)
        assert m is not None  # the pattern matches the empty string
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise invalid()
        if not unit:
            raise invalid("missing unit in duration")
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise CelError(
                f"time: unknown unit {json.dumps(unit, ensure_ascii=False)} in duration "
                f"{json.dumps(text, ensure_ascii=False)}"
            )
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        if total > _MAX_NS + (1 if negative else 0):
            raise invalid()
        s = s[m.end() :]
    return -total if negative else total


@functools.lru_cache(maxsize=4096)
def _duration_micros(text: str) -> int:
    # Floor to microseconds: keeps `>=` against whole-microsecond bounds exact.
    return _go_duration_ns(text) // 1000


def k8s_duration(text: Any) -> _dt.timedelta:
    if not isinstance(text, str):
        raise TypeError("duration() takes a string")
    return _dt.timedelta(microseconds=_duration_micros(text))


# Durations the cel package's own duration() reads exactly as Go does (no µs, exponents, ...).
_PLAIN_DURATION = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|ms|s|m|h))+")


def native_duration_ok(text: str) -> bool:
    if not _PLAIN_DURATION.fullmatch(text):
        return False
    try:
        _go_duration_ns(text)
    except CelError:
        return False  # e.g. out of Go's range
    return True
