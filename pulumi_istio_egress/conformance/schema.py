"""One node of an ``openAPIV3Schema`` compiled for repeated validation, and its defaults."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any

from .cel_rules import Rule, compile_rule, merge_use
from .formats import FORMATS, go_regex
from .values import hashable, json_type, str_keys


class Schema:
    """One node of an openAPIV3Schema, compiled for fast repeated validation."""

    __slots__ = (
        "additional",
        "all_of",
        "any_of",
        "branch",
        "choice_fix",
        "composite",
        "default",
        "enum",
        "enum_keys",
        "exclusive_max",
        "exclusive_min",
        "format",
        "format_check",
        "has_defaults",
        "implicit",
        "int_or_string",
        "items",
        "list_type",
        "map_keys",
        "max_items",
        "max_length",
        "max_props",
        "maximum",
        "min_items",
        "min_length",
        "min_props",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "pattern_error",
        "pattern_source",
        "preserve",
        "properties",
        "required",
        "rule_functions",
        "rules",
        "scalar_checks",
        "self_use",
        "type",
    )

    def __init__(self, raw: Mapping[str, Any], branch: bool = False) -> None:
        self.branch = branch  # inside allOf/anyOf/oneOf/not: validates only, prunes nothing
        self.type: str | None = raw.get("type") if isinstance(raw.get("type"), str) else None
        self.nullable = bool(raw.get("nullable", False))
        self.default: Any = raw.get("default")  # Kubernetes forbids `default: null`, so None is "no default"
        self.int_or_string = bool(raw.get("x-kubernetes-int-or-string", False))
        self.preserve = bool(raw.get("x-kubernetes-preserve-unknown-fields", False))
        # The object's own apiVersion/kind/metadata are checked by CrdSet, not by the schema.
        embedded = bool(raw.get("x-kubernetes-embedded-resource", False))
        self.implicit: frozenset[str] = frozenset({"apiVersion", "kind", "metadata"} if embedded else ())
        props = raw.get("properties")
        self.properties: dict[str, Schema] | None = (
            {str(k): Schema(v, branch) for k, v in props.items()} if isinstance(props, Mapping) else None
        )
        addl = raw.get("additionalProperties")
        self.additional: Schema | bool | None = (
            Schema(addl, branch) if isinstance(addl, Mapping) else addl if isinstance(addl, bool) else None
        )
        items = raw.get("items")
        self.items: Schema | None = Schema(items, branch) if isinstance(items, Mapping) else None
        self.required: tuple[str, ...] = tuple(str(r) for r in raw.get("required") or ())
        enum = raw.get("enum")
        self.enum: tuple[Any, ...] | None = tuple(enum) if isinstance(enum, list) else None
        self.enum_keys = frozenset(hashable(e) for e in self.enum) if self.enum is not None else None
        self.pattern_source: str | None = raw.get("pattern")
        self.pattern: re.Pattern[str] | None = None
        self.pattern_error: str | None = None
        if isinstance(self.pattern_source, str):
            try:
                self.pattern = go_regex(self.pattern_source)
            except re.error as exc:
                self.pattern_error = str(exc)
        self.format: str | None = raw.get("format") if isinstance(raw.get("format"), str) else None
        self.format_check = FORMATS.get(self.format) if self.format else None
        self.minimum: float | None = raw.get("minimum")
        self.maximum: float | None = raw.get("maximum")
        self.exclusive_min = bool(raw.get("exclusiveMinimum", False))
        self.exclusive_max = bool(raw.get("exclusiveMaximum", False))
        self.multiple_of: float | None = raw.get("multipleOf")
        self.min_length: int | None = raw.get("minLength")
        self.max_length: int | None = raw.get("maxLength")
        self.min_items: int | None = raw.get("minItems")
        self.max_items: int | None = raw.get("maxItems")
        self.min_props: int | None = raw.get("minProperties")
        self.max_props: int | None = raw.get("maxProperties")
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.map_keys: tuple[str, ...] = tuple(raw.get("x-kubernetes-list-map-keys") or ())
        any_of = raw.get("anyOf") or ()
        if self.int_or_string and all(set(b) <= {"type"} for b in any_of):
            any_of = ()  # that anyOf only spells out int-or-string, checked as a type
        self.any_of = tuple(Schema(b, True) for b in any_of)
        self.one_of = tuple(Schema(b, True) for b in raw.get("oneOf") or ())
        self.all_of = tuple(Schema(b, True) for b in raw.get("allOf") or ())
        self.not_: Schema | None = Schema(raw["not"], True) if isinstance(raw.get("not"), Mapping) else None
        self.choice_fix = _choice_fix(raw.get("oneOf"))
        self.composite = bool(self.all_of or self.any_of or self.one_of or self.not_)
        self.scalar_checks = any(
            x is not None
            for x in (
                self.pattern_source, self.format, self.minimum, self.maximum, self.multiple_of,
                self.min_length, self.max_length,
            )
        )  # fmt: skip
        self.rules: tuple[Rule, ...] = (
            () if branch else tuple(compile_rule(r) for r in raw.get("x-kubernetes-validations") or ())
        )
        functions: dict[str, Callable[..., Any]] = {}
        for rule in self.rules:
            functions.update(rule.rule.functions)
            if rule.message_expression is not None:
                functions.update(rule.message_expression.functions)
        self.rule_functions = functions or None
        programs = [r.rule for r in self.rules if not r.rule.transition]
        programs += [r.message_expression for r in self.rules if r.message_expression is not None]
        self.self_use = merge_use(p.self_use for p in programs)
        children = [*(self.properties or {}).values(), self.additional, self.items]
        self.has_defaults: bool = any(
            isinstance(c, Schema) and (c.default is not None or c.has_defaults) for c in children
        )


def _choice_fix(one_of: Any) -> str | None:
    """A concrete fix for the oneOf shapes protobuf-generated CRDs use for ``oneof`` fields."""
    if not isinstance(one_of, list):
        return None
    names: list[str] = []
    optional = False
    for branch in one_of:
        if not isinstance(branch, Mapping):
            return None
        if set(branch) == {"required"} and len(branch["required"]) == 1:
            names.append(str(branch["required"][0]))
        elif set(branch) == {"not"} and set(branch["not"]) == {"anyOf"}:
            optional = True
        else:
            return None
    if not names:
        return None
    return f"Set {'at most' if optional else 'exactly'} one of: {', '.join(names)}"


def with_defaults(s: Schema, value: Any) -> Any:
    """A copy of ``value`` with the schema's defaults filled in, as the API server does on decode."""
    kind = json_type(value)
    if kind == "object":
        out = dict(str_keys(value))
        for key, child in (s.properties or {}).items():
            if child.default is not None and (key not in out or (out[key] is None and not child.nullable)):
                out[key] = copy.deepcopy(child.default)
        for key, item in out.items():
            member = member_schema(s, key)
            if isinstance(member, Schema) and (member.has_defaults or member.default is not None):
                if item is None and member.default is not None and not member.nullable:
                    out[key] = copy.deepcopy(member.default)
                elif member.has_defaults:
                    out[key] = with_defaults(member, item)
        return out
    if kind == "array" and s.items is not None and s.items.has_defaults:
        return [with_defaults(s.items, item) for item in value]
    return value


def member_schema(s: Schema, key: str) -> Schema | bool:
    """The schema of field ``key``: a node, True (kept as is) or False (pruned)."""
    child = s.properties.get(key) if s.properties is not None else None
    if child is not None:
        return child
    if isinstance(s.additional, Schema):
        return s.additional
    return s.additional is True or s.preserve
