"""Kubernetes' CEL library functions the ``cel`` package lacks, as Python functions.

``url``/``isURL``/``getScheme``..., ``isIP``, Go-syntax ``duration``, code-point ``size`` and cel-go's
extensions. A function that raises leaves its exception in :data:`call_state` for the evaluator.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cel import stdlib as cel_stdlib

from .durations import k8s_duration
from .ips import IP_FUNCTIONS
from .urls import URL_FUNCTIONS

call_state = threading.local()
"""Per thread, ``pending``: the exception a function below raised in the current execution."""


class _QuietExpectedErrors(logging.Filter):
    # The cel package logs a warning for each failing Python function; ours fail by design
    # (an invalid URL is a rule violation) and are reported as findings instead.
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(call_state, "pending", None) is None


logging.getLogger("cel").addFilter(_QuietExpectedErrors())


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            call_state.pending = exc
            raise

    return call


def _k8s_size(value: Any) -> int:
    # cel-go counts a string's code points; the cel package counts its UTF-8 bytes.
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return len(value)
    raise TypeError(f"size() of {type(value).__name__}")


DURATION_FN = "k8s_duration"
SIZE_FN = "k8s_size"

FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: _guard(fn)
    for name, fn in {
        DURATION_FN: k8s_duration,
        SIZE_FN: _k8s_size,
        **URL_FUNCTIONS,
        **IP_FUNCTIONS,
        # cel-go's strings and sets extensions and Kubernetes' list helpers (bool, min, max, sum),
        # all part of Kubernetes' CEL environment.
        **cel_stdlib.EXTENSIONS["core"],
        **cel_stdlib.EXTENSIONS["strings"],
        **cel_stdlib.EXTENSIONS["sets"],
    }.items()
}
