"""CEL's ``duration()`` as Kubernetes runs it.

cel-go converts a string with Go's ``time.ParseDuration``
(:func:`pulumi_istio_egress.gosyntax.parse_duration`), so it takes ``5m``, ``.5s`` and ``1µs``,
but on failure it drops Go's error for its own (``String.ConvertToType`` in common/types/string.go):
the API server says ``type conversion error from 'string' to 'google.protobuf.Duration'``.
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from typing import Any

from ..gosyntax import GoSyntaxError, parse_duration
from .messages import CelError

CONVERSION_ERROR = "type conversion error from 'string' to 'google.protobuf.Duration'"


@functools.lru_cache(maxsize=4096)
def _duration_micros(text: str) -> int:
    try:
        ns = parse_duration(text)
    except GoSyntaxError:
        raise CelError(CONVERSION_ERROR) from None
    # Floor to microseconds (Python's timedelta resolution): keeps `>=` against
    # whole-microsecond bounds exact.
    return ns // 1000


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
        parse_duration(text)
    except GoSyntaxError:
        return False  # e.g. out of Go's range
    return True
