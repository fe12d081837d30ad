"""JSON values as the API server sees them: their type names, string keys, printing and hashing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..gosyntax import go_quote
from ..jsontypes import json_type as shared_json_type
from ..jsontypes import printed_integer


def go_number(x: float | int) -> str:
    # Go prints float64 150.0 as "150" (%v); Python would print "150.0".
    if isinstance(x, float) and (number := printed_integer(x)) is not None:
        return str(number)
    return repr(x) if isinstance(x, float) else str(x)


def show(value: Any) -> str:
    """A value as the API server prints it in ``Invalid value: ...``."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)  # apimachinery's field.Error prints a string value with %q
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


json_type = shared_json_type  # one wording for the CRD and webhook layers


def key_str(key: Any) -> str:
    # YAML allows non-string keys; the API server only ever sees JSON (string) keys.
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return go_number(key)
    return str(key)


def str_keys(value: Mapping[Any, Any]) -> Mapping[str, Any]:
    for key in value:
        if not isinstance(key, str):
            return {key_str(k): v for k, v in value.items()}
    return value


def hashable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return (type(value).__name__, value)
    return ("json", show(value))
