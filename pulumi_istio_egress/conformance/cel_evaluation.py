"""Running a schema node's CEL rules on a value, with the errors the API server would report."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any

from ..extras import requires_extra

with requires_extra("Istio CRD validation (the istio-valid CRD layer)"):
    import cel

from ..findings import Finding
from .cel_functions import DURATION_FN, FUNCTIONS, SIZE_FN, call_state
from .cel_rules import Program, SelfUse
from .formats import is_date_time
from .messages import COULD_NOT_EVALUATE, UNEVALUATED_FIX, CelError, Run
from .schema import Schema, member_schema
from .values import json_type, key_str

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class _Conversion:
    __slots__ = ("non_ascii",)

    def __init__(self) -> None:
        self.non_ascii = False


def _raw_to_cel(value: Any, conv: _Conversion) -> Any:
    kind = json_type(value)
    if kind == "string":
        if not value.isascii():
            conv.non_ascii = True
        return value
    if kind == "integer":
        # Go decodes JSON integers beyond int64 as float64.
        return value if _INT64_MIN <= value <= _INT64_MAX else float(value)
    if kind == "object":
        out = {}
        for k, v in value.items():
            key = key_str(k)
            if not key.isascii():
                conv.non_ascii = True
            out[key] = _raw_to_cel(v, conv)
        return out
    if kind == "array":
        return [_raw_to_cel(v, conv) for v in value]
    return value


def _to_cel(s: Schema, value: Any, conv: _Conversion, use: SelfUse | None = None) -> Any:
    """The value as Kubernetes hands it to CEL: pruned to the schema, typed by the schema.

    With ``use``, only what the rules can read is converted (see :class:`SelfUse`).
    """
    kind = json_type(value)
    if kind == "null" or s.int_or_string:
        return _raw_to_cel(int(value) if kind == "number" else value, conv)
    if kind == "object":
        out: dict[str, Any] = {}
        for k, item in value.items():
            key = key_str(k)
            member = member_schema(s, key)
            if member is False:
                continue
            if use is not None and key not in use.fields:
                if use.all_keys:
                    out[key] = None
                    conv.non_ascii = conv.non_ascii or not key.isascii()
                continue
            if not key.isascii():
                conv.non_ascii = True
            out[key] = _raw_to_cel(item, conv) if member is True else _to_cel(member, item, conv)
        return out
    if kind == "array":
        if s.items is None:
            return [_raw_to_cel(v, conv) for v in value]
        if use is not None and use.element_fields is not None:
            element_use = SelfUse(use.element_fields, False, None)
            return [_to_cel(s.items, v, conv, element_use) for v in value]
        return [_to_cel(s.items, v, conv) for v in value]
    if s.type == "integer" and kind in ("integer", "number"):
        return _raw_to_cel(int(value), conv)
    if s.type == "number" and kind in ("integer", "number"):
        return float(value)
    if kind != "string" or s.format is None:
        return _raw_to_cel(value, conv)
    if s.format == "byte":
        try:
            return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            return value
    if s.format in ("date-time", "datetime") and is_date_time(value):
        try:
            return _dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            return value  # an offset/precision Python cannot read: left as the string
    return _raw_to_cel(value, conv)


# Functions and macros the cel package itself provides (the rest come from FUNCTIONS).
_CEL_BUILTINS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string",
        "bytes", "duration", "timestamp", "dyn", "type", "has", "all", "exists", "exists_one", "map",
        "filter", "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek",
        "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
_GO_CONVERSION = re.compile(r"Function '(int|uint|double)' error: string parse error")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")


def _run_program(program: Program, ctx: Any, non_ascii: bool) -> tuple[str, Any]:
    """Execute; returns ("ok", result), ("error", api-server-style error) or ("unevaluated", why)."""
    if program.program is None:
        return "unevaluated", program.error
    chosen = program.unicode_program if non_ascii and program.unicode_program is not None else program.program
    call_state.pending = None
    try:
        return "ok", chosen.execute(ctx)
    except Exception as exc:
        return _classify(exc, getattr(call_state, "pending", None))
    finally:
        call_state.pending = None  # also after an error CEL absorbed (`true || error`)


def _classify(exc: Exception, pending: BaseException | None) -> tuple[str, str]:
    # Errors cel-go raises as well (so the API server rejects the object) versus gaps in this
    # emulation (reported as not evaluated: the API server type-checks rules when the CRD is created,
    # so an overload mismatch there cannot happen for an accepted CRD).
    if pending is not None:
        if isinstance(pending, CelError):
            return "error", str(pending)
        if isinstance(pending, (IndexError, ValueError)):
            return "error", str(pending)
        return "unevaluated", f"{type(pending).__name__}: {pending}"
    text = str(exc).split("\n")[0]
    if isinstance(exc, KeyError):
        return "error", f"no such key: {exc.args[0] if exc.args else ''}"
    if isinstance(exc, IndexError):
        return "error", text
    if isinstance(exc, ZeroDivisionError):
        return "error", "modulus by zero" if "modulo" in text else "division by zero"
    if isinstance(exc, OverflowError):
        return "error", "integer overflow"
    conversion = _GO_CONVERSION.search(text)
    if conversion:
        return "error", f"type conversion error from 'string' to '{conversion.group(1)}'"
    if isinstance(exc, RuntimeError) and ("Function 'timestamp' error" in text or "not a valid regex" in text):
        return "error", text
    undefined = _UNDEFINED.search(text)
    if undefined:
        name = {DURATION_FN: "duration", SIZE_FN: "size"}.get(undefined.group(1), undefined.group(1))
        if name in _CEL_BUILTINS or name in FUNCTIONS:
            return "unevaluated", f"no overload of '{name}' for these arguments in this validator"
        return "unevaluated", f"'{name}' is not implemented by this validator"
    if isinstance(exc, TypeError):
        return "unevaluated", "no matching overload in this validator"
    return "unevaluated", f"{type(exc).__name__}: {text}"


def evaluate_rules(s: Schema, value: Any, path: str, run: Run) -> None:
    conv = _Conversion()
    use = s.self_use
    self_value = _to_cel(s, value, conv, use)
    if s.implicit and isinstance(value, Mapping) and isinstance(self_value, dict):
        # An object's own rules see apiVersion, kind and metadata.name/generateName.
        for key in ("apiVersion", "kind", "metadata"):
            if key not in value or not (use is None or use.all_keys or key in use.fields):
                continue
            item = value[key]
            if key == "metadata" and isinstance(item, Mapping):
                item = {k: item[k] for k in ("name", "generateName") if k in item}
            self_value[key] = _raw_to_cel(item, conv)
    ctx = cel.Context(variables={"self": self_value}, functions=s.rule_functions)
    kind = '""' if s.type is None else f'"{s.type}"'
    where = path or "<root>"
    for rule in s.rules:
        if rule.rule.transition:
            continue  # oldSelf rules only run on update; this validates a create
        outcome, result = _run_program(rule.rule, ctx, conv.non_ascii)
        if outcome == "ok" and result is True:
            continue
        fix = f"Change {path or 'the object'} so that the rule `{rule.text}` holds"
        if outcome == "ok" and result is False:
            message = rule.failure()
            if rule.message_expression is not None:
                status, text = _run_program(rule.message_expression, ctx, conv.non_ascii)
                if status == "ok" and isinstance(text, str) and text.strip():
                    message = text.strip()
            target, target_value = rule.target(path, value)
            body = {
                "FieldValueForbidden": f"Forbidden: {message}",
                "FieldValueRequired": f"Required value: {message}",
                "FieldValueDuplicate": f"Duplicate value: {kind}: {message}",
            }.get(rule.reason, f"Invalid value: {kind}: {message}")
            run.cel_findings.append(Finding(target or "<root>", target_value, body, fix))
        elif outcome == "error":
            body = f"Invalid value: {kind}: {result} evaluating rule: {rule.name()}"
            run.cel_findings.append(Finding(where, value, body, fix))
        else:
            why = f"it returned {type(result).__name__}, not bool" if outcome == "ok" else result
            body = f"{COULD_NOT_EVALUATE} rule `{rule.text}` ({rule.failure()}): {why}"
            run.cel_findings.append(Finding(where, value, body, UNEVALUATED_FIX))
