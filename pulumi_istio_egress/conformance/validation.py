"""The structural-schema walk: a value against a compiled :class:`~.schema.Schema` node.

Types, enum, required, bounds, patterns, formats, list types, composition and undeclared fields;
each node's CEL rules run unless a blocking error there would make them meaningless.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping
from typing import Any

from .cel_evaluation import evaluate_rules
from .formats import FORMAT_HINTS, UNCHECKED_FORMATS
from .messages import COULD_NOT_EVALUATE, TYPE_DESC, UNEVALUATED_FIX, Run, in_body, join_path, plural
from .schema import Schema, member_schema
from .values import go_number, hashable, json_type, show, str_keys


def check(s: Schema, value: Any, path: str, run: Run) -> bool:
    """Validate ``value`` against ``s``; True when a blocking (CEL-skipping) error occurred."""
    kind = json_type(value)
    if value is None:
        if s.nullable or (s.type is None and not s.int_or_string):
            return False
        expected = "integer,string" if s.int_or_string else str(s.type)
        run.add(
            path,
            None,
            f'Invalid value: "null": {in_body(path, f"must be of type {expected}")}: "null"',
            f"Set it to {TYPE_DESC.get(str(s.type), 'an integer or a string')} or remove the field",
        )
        _skip_rules(s, path, run)
        return True
    if s.int_or_string:
        ok = kind in ("integer", "string") or (kind == "number" and float(value).is_integer())
        expected = "integer,string"
    else:
        expected = str(s.type)
        ok = (
            kind == s.type
            or s.type is None
            or (s.type == "integer" and kind == "number" and math.isfinite(value) and value.is_integer())
            or (s.type == "number" and kind == "integer")
        )
    if not ok:
        run.add(
            path,
            value,
            f'Invalid value: {show(value)}: {in_body(path, f"must be of type {expected}")}: "{kind}"',
            f"Change it to {TYPE_DESC.get(expected, 'an integer or a string')}",
        )
        _skip_rules(s, path, run)
        return True

    blocked = False
    if kind == "object":
        blocked = _check_object(s, str_keys(value), path, run)
    elif kind == "array":
        blocked = _check_array(s, value, path, run)
    elif not s.scalar_checks:
        pass  # most leaves: nothing beyond the type to check
    elif kind == "string":
        blocked = _check_string(s, value, path, run)
    elif kind in ("integer", "number"):
        _check_number(s, value, path, run)

    if s.enum_keys is not None and hashable(value) not in s.enum_keys:
        assert s.enum is not None
        supported = ", ".join(json.dumps(str(e)) for e in s.enum)
        run.add(
            path,
            value,
            f"Unsupported value: {show(value)}: supported values: {supported}",
            f"Use one of: {', '.join(str(e) for e in s.enum)}",
        )
        blocked = True
    if s.composite:
        _check_composition(s, value, path, run)
    if blocked:
        _skip_rules(s, path, run)
    elif s.rules and not run.probe:
        evaluate_rules(s, value, path, run)
    return blocked


def _skip_rules(s: Schema, path: str, run: Run) -> None:
    # Like the API server, no CEL on a value with a blocking error: it may not have the types the
    # rules were written for. Remember the first such place for the RULES_NOT_CHECKED note.
    if s.rules and run.unchecked is None:
        run.unchecked = path or "<root>"


def _check_object(s: Schema, value: Mapping[str, Any], path: str, run: Run) -> bool:
    blocked = False
    for name in s.required:
        if name not in value:
            run.add(join_path(path, name), None, "Required value", f"Set {join_path(path, name)}")
            blocked = True
    blocked |= _check_count(value, (s.min_props, s.max_props), "properties", ("entry", "entries"), path, run,
                            ", or remove it")
    props, addl = s.properties, s.additional
    for key, item in value.items():
        child = props.get(key) if props is not None else None
        if key in s.implicit:
            # ObjectMeta is validated on its own; a CRD may only constrain name and generateName.
            if key == "metadata" and child is not None and child.properties and isinstance(item, Mapping):
                for name in ("name", "generateName"):
                    if name in item and name in child.properties:
                        blocked |= check(child.properties[name], item[name], f"metadata.{name}", run)
        elif child is not None:
            blocked |= check(child, item, join_path(path, key), run)
        elif isinstance(addl, Schema):
            blocked |= check(addl, item, f"{path}[{key}]", run)
        elif not (addl is True or s.preserve or s.branch):
            _unknown_field(s, key, item, path, run)
    return blocked


def _unknown_field(s: Schema, key: str, item: Any, path: str, run: Run) -> None:
    known = sorted({*(s.properties or ()), *s.implicit})
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        fix = f"Did you mean `{close[0]}`? Otherwise remove `{key}`"
    elif known:
        fix = f"Remove `{key}`; fields allowed here: {', '.join(known)}"
    else:
        fix = f"Remove `{key}`; this object takes no fields"
    run.add(join_path(path, key), item, "field not declared in schema", fix)


def check_unknown_only(s: Schema, value: Any, path: str, run: Run) -> None:
    """Only the fields the schema does not declare: all that matters of an ignored subtree."""
    kind = json_type(value)
    if kind == "object":
        for key, item in str_keys(value).items():
            member = member_schema(s, key)
            if isinstance(member, Schema):
                child_path = join_path(path, key) if s.properties and key in s.properties else f"{path}[{key}]"
                check_unknown_only(member, item, child_path, run)
            elif member is False and key not in s.implicit:
                _unknown_field(s, key, item, path, run)
    elif kind == "array" and s.items is not None:
        for index, item in enumerate(value):
            check_unknown_only(s.items, item, f"{path}[{index}]", run)


def _check_count(value: Any, bounds: tuple[int | None, int | None], counted: str, words: tuple[str, str],
                 path: str, run: Run, min_fix_tail: str = "") -> bool:
    """minProperties/maxProperties or minItems/maxItems, in the API server's words (its "too many"
    says items for both); True when the value is blocked (too many)."""
    count, (low, high) = len(value), bounds
    if low is not None and count < low:
        run.add(
            path,
            value,
            f"Invalid value: {count}: {in_body(path, f'should have at least {low} {counted}')}",
            f"Give it at least {plural(low, *words)}{min_fix_tail}",
        )
    if high is not None and count > high:
        run.add(path, value, f"Too many: {count}: must have at most {high} items",
                f"Give it at most {plural(high, *words)}")
        return True
    return False


def _check_array(s: Schema, value: list[Any] | tuple[Any, ...], path: str, run: Run) -> bool:
    blocked = False
    blocked |= _check_count(value, (s.min_items, s.max_items), "items", ("item", "items"), path, run)
    if s.items is not None:
        for index, item in enumerate(value):
            blocked |= check(s.items, item, f"{path}[{index}]", run)
    if s.list_type == "map" and s.map_keys:
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                continue
            item = str_keys(item)
            key = tuple(hashable(item.get(k)) for k in s.map_keys)
            if key in seen:
                shown = {k: item.get(k) for k in s.map_keys}
                names = ", ".join(f"`{k}`" for k in s.map_keys)
                run.add(
                    f"{path}[{index}]",
                    shown,
                    f"Duplicate value: {show(shown)}",
                    f"Give each item of {path} a unique {names}",
                )
            seen.add(key)
    elif s.list_type == "set":
        seen_items: set[Any] = set()
        for index, item in enumerate(value):
            key = hashable(item)
            if key in seen_items:
                run.add(f"{path}[{index}]", item, f"Duplicate value: {show(item)}", "Remove the duplicate item")
            seen_items.add(key)
    return blocked


def _check_string(s: Schema, value: str, path: str, run: Run) -> bool:
    blocked = False
    if s.min_length is not None and len(value) < s.min_length:
        run.add(
            path,
            value,
            f"Invalid value: {show(value)}: {in_body(path, f'should be at least {s.min_length} chars long')}",
            f"Use at least {plural(s.min_length, 'character', 'characters')}, or remove the field",
        )
    if s.max_length is not None and len(value) > s.max_length:
        run.add(
            path,
            value,
            f"Too long: may not be longer than {s.max_length}",
            f"Use at most {plural(s.max_length, 'character', 'characters')}",
        )
        blocked = True
    if s.pattern is not None and not s.pattern.search(value):
        run.add(
            path,
            value,
            f"Invalid value: {show(value)}: " + in_body(path, f"should match '{s.pattern_source}'"),
            f"Change it to match the regular expression {s.pattern_source}",
        )
    elif s.pattern_error is not None:
        run.add(
            path,
            value,
            f"{COULD_NOT_EVALUATE} pattern {s.pattern_source!r}: {s.pattern_error}",
            UNEVALUATED_FIX,
        )
    if s.format is not None and s.type == "string":
        if s.format_check is not None:
            if not s.format_check(value):
                hint = FORMAT_HINTS.get(s.format, f"a valid {s.format}")
                run.add(
                    path,
                    value,
                    f"Invalid value: {show(value)}: {in_body(path, f'must be of type {s.format}')}: {show(value)}",
                    f"Use {hint}",
                )
                blocked = True
        elif s.format in UNCHECKED_FORMATS:
            run.add(
                path,
                value,
                f"{COULD_NOT_EVALUATE} format {s.format!r}: not implemented by this validator",
                UNEVALUATED_FIX,
            )
    return blocked


def _check_number(s: Schema, value: float, path: str, run: Run) -> None:
    shown = show(value)
    if s.minimum is not None:
        low = go_number(s.minimum)
        if s.exclusive_min and value <= s.minimum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {in_body(path, f'should be greater than {low}')}",
                f"Use a value greater than {low}",
            )
        elif value < s.minimum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {in_body(path, f'should be greater than or equal to {low}')}",
                f"Use a value of at least {low}",
            )
    if s.maximum is not None:
        high = go_number(s.maximum)
        if s.exclusive_max and value >= s.maximum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {in_body(path, f'should be less than {high}')}",
                f"Use a value less than {high}",
            )
        elif value > s.maximum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {in_body(path, f'should be less than or equal to {high}')}",
                f"Use a value of at most {high}",
            )
    if s.multiple_of and not float(value / s.multiple_of).is_integer():
        step = go_number(s.multiple_of)
        run.add(
            path,
            value,
            f"Invalid value: {shown}: {in_body(path, f'should be a multiple of {step}')}",
            f"Use a multiple of {step}",
        )


def _matches(branch: Schema, value: Any) -> bool:
    probe = Run(probe=True)
    check(branch, value, "", probe)
    return not probe.failed


def _check_composition(s: Schema, value: Any, path: str, run: Run) -> None:
    shown = f'Invalid value: "{json_type(value)}"'
    if s.all_of and not all(_matches(b, value) for b in s.all_of):
        run.add(
            path,
            value,
            f"{shown}: {in_body(path, 'must validate all the schemas (allOf)')}",
            "Change it to satisfy every alternative listed under allOf in the schema",
        )
    if s.any_of and not any(_matches(b, value) for b in s.any_of):
        run.add(
            path,
            value,
            f"{shown}: {in_body(path, 'must validate at least one schema (anyOf)')}",
            "Change it to satisfy one of the alternatives listed under anyOf in the schema",
        )
    if s.one_of:
        count = sum(_matches(b, value) for b in s.one_of)
        if count != 1:
            found = f". Found {count} valid alternatives" if count else ""
            run.add(
                path,
                value,
                f"{shown}: {in_body(path, 'must validate one and only one schema (oneOf)')}{found}",
                s.choice_fix or "Change it to satisfy exactly one of the alternatives under oneOf in the schema",
            )
    if s.not_ is not None and _matches(s.not_, value):
        run.add(
            path,
            value,
            f"{shown}: {in_body(path, 'must not validate the schema (not)')}",
            "Change it so it no longer matches the schema under `not`",
        )
