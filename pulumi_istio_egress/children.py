"""What ``EgressRoute`` and ``EgressLockdown`` share as Pulumi shells: their children are known by
key before their contents (some inputs may be Outputs), their manifests are computed now when
every input is plain, else when the inputs resolve, and their outputs are read off the manifests."""

# No `from __future__ import annotations`: the components' modules are read by Pulumi at runtime,
# and this one stays as plain as they are.
import inspect
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import pulumi
from pulumi.output import Unknown

from .findings import Manifest
from .manifests import ObjectKey
from .route import EgressRouteError

Plan = dict[str, Manifest] | pulumi.Output[dict[str, Manifest]]
"""A component's manifests by key: plain when every input is, else an Output of them."""

Field = Callable[[str], Any]
"""One top-level field of a child's manifest (``metadata``, ``spec``, ``rules`` ...): plain or an Output."""

MakeChild = Callable[[str, ObjectKey, Field, pulumi.ResourceOptions], object]
"""Registers one child: its Pulumi name, its key, its manifest's fields, its options."""


def is_pending(value: Any) -> bool:
    """True for values Pulumi resolves later (Outputs, awaitables), at any depth."""
    if isinstance(value, (pulumi.Output, Unknown)) or inspect.isawaitable(value):
        return True
    if isinstance(value, Mapping):
        return any(is_pending(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(is_pending(v) for v in value)
    return False


def plan(name: str, args: Mapping[str, Any], build: Callable[[Any], dict[str, Manifest]]) -> Plan:
    """``build(args)`` now when every input is plain, else when they resolve; errors name ``name``."""

    def named(resolved: Any) -> dict[str, Manifest]:
        try:
            return build(resolved)
        except EgressRouteError as error:
            raise error.for_route(name) from None

    if not is_pending(args):
        return named(args)
    return pulumi.Output.from_input(dict(args)).apply(named)


def _pick(key: str, values: dict[str, Any]) -> Any:
    return values[key]


def _field(key: str, field: str, plan: dict[str, Manifest]) -> Any:
    return plan[key].get(field)


def field_of(manifests: Plan, key: str) -> Field:
    """The fields of one child's manifest. Plain values stay plain: nested Outputs cost a task per
    leaf and dominate at scale."""
    if isinstance(manifests, dict):
        return partial(_field, key, plan=manifests)
    return lambda field: manifests.apply(partial(_field, key, field))


def register(component: pulumi.ComponentResource, name: str, keys: Sequence[ObjectKey], manifests: Plan,
             make: MakeChild, outputs_of: Callable[[dict[str, Manifest]], dict[str, Any]],
             output_fields: Sequence[str]) -> None:
    """Register the children ``<name>-<key>`` in ``keys`` order, then the component's outputs."""
    child = pulumi.ResourceOptions(parent=component)
    for key in keys:
        make(f"{name}-{key.key}", key, field_of(manifests, key.key), child)
    if isinstance(manifests, dict):
        outputs: dict[str, Any] = outputs_of(manifests)
        for field, value in outputs.items():
            setattr(component, field, pulumi.Output.from_input(value))
    else:
        resolved = manifests.apply(outputs_of)
        for field in output_fields:
            setattr(component, field, resolved.apply(partial(_pick, field)))
        outputs = {field: getattr(component, field) for field in output_fields}
    component.register_outputs(outputs)


def ref(manifest: Manifest) -> str:
    """An object as the components' ``objects`` output lists it: ``Kind namespace/name``."""
    meta = manifest["metadata"]
    return f"{manifest['kind']} {meta['namespace']}/{meta['name']}"
