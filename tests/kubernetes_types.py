"""Check a plain camelCase Kubernetes object against pulumi-kubernetes' typed args classes.

The ``*Args`` classes are generated from Kubernetes' OpenAPI schema: their parameters are the
object's fields (snake_case), optional exactly when the schema does not require them, and
annotated with the field's type. Walking a manifest through them finds unknown fields, missing
required fields and values of the wrong shape, as the typed resource's Check would.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Awaitable, Mapping, Sequence
from types import ModuleType
from typing import Any

import pulumi_kubernetes.meta.v1 as meta_v1
import pulumi_kubernetes.networking.v1 as networking_v1

MODULES: tuple[ModuleType, ...] = (networking_v1, meta_v1)


def _camel(snake: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), snake.rstrip("_"))


def _resolve(ref: typing.ForwardRef) -> type:
    name = ref.__forward_arg__.rsplit(".", 1)[-1]
    for module in MODULES:
        if hasattr(module, name):
            found: type = getattr(module, name)
            return found
    raise LookupError(f"no pulumi-kubernetes args class {name}")


def _alternatives(annotation: Any) -> list[Any]:
    """The concrete types an input annotation allows (no None, Awaitable or Output)."""
    options = typing.get_args(annotation) if typing.get_origin(annotation) is typing.Union else (annotation,)
    out = []
    for option in options:
        if option is type(None) or typing.get_origin(option) is Awaitable:
            continue
        if isinstance(option, typing.ForwardRef) and option.__forward_arg__.startswith("Output"):
            continue
        out.append(option)
    return out


def _problems_for(value: Any, annotation: Any, path: str) -> list[str]:
    found: list[list[str]] = []
    for option in _alternatives(annotation):
        origin = typing.get_origin(option)
        if isinstance(option, typing.ForwardRef):
            problems = args_problems(value, _resolve(option), path)
        elif origin in (Sequence, list):
            if not isinstance(value, list):
                problems = [f"{path}: expected a list, got {value!r}"]
            else:
                (item,) = typing.get_args(option)
                problems = [p for i, v in enumerate(value) for p in _problems_for(v, item, f"{path}[{i}]")]
        elif origin in (Mapping, dict):
            if not isinstance(value, dict):
                problems = [f"{path}: expected a map, got {value!r}"]
            else:
                _, item = typing.get_args(option)
                problems = [p for k, v in value.items() for p in _problems_for(v, item, f"{path}.{k}")]
        elif option in (str, int, bool):
            ok = isinstance(value, option) and (option is bool or not isinstance(value, bool))
            problems = [] if ok else [f"{path}: expected {option.__name__}, got {value!r}"]
        else:
            problems = [f"{path}: unhandled annotation {option}"]
        if not problems:
            return []
        found.append(problems)
    return found[0] if found else [f"{path}: no type allowed"]


def args_problems(value: Any, cls: type, path: str = "") -> list[str]:
    """Every way ``value`` (camelCase dict) does not fit ``cls`` (a pulumi-kubernetes ``*Args``)."""
    if not isinstance(value, dict):
        return [f"{path or '<root>'}: expected an object for {cls.__name__}, got {value!r}"]
    hints = {k: p.annotation for k, p in inspect.signature(cls.__init__).parameters.items()
             if k not in ("self", "__self__")}
    by_camel = {_camel(k): k for k in hints}
    problems = [f"{path}.{key}: not a field of {cls.__name__}".lstrip(".") for key in value if key not in by_camel]
    for camel, snake in by_camel.items():
        where = f"{path}.{camel}".lstrip(".")
        annotation = hints[snake]
        required = type(None) not in typing.get_args(annotation)
        if camel not in value:
            if required:
                problems.append(f"{where}: required by {cls.__name__}")
            continue
        problems += _problems_for(value[camel], annotation, where)
    return problems


def network_policy_problems(manifest: dict[str, Any]) -> list[str]:
    """What pulumi-kubernetes' ``NetworkPolicy`` types refuse in a plain manifest."""
    problems = [f"{key}: not a field of NetworkPolicy" for key in manifest
                if key not in ("apiVersion", "kind", "metadata", "spec")]
    if (manifest.get("apiVersion"), manifest.get("kind")) != ("networking.k8s.io/v1", "NetworkPolicy"):
        problems.append("apiVersion/kind: not networking.k8s.io/v1 NetworkPolicy")
    problems += args_problems(manifest.get("metadata"), meta_v1.ObjectMetaArgs, "metadata")
    problems += args_problems(manifest.get("spec"), networking_v1.NetworkPolicySpecArgs, "spec")
    return problems
