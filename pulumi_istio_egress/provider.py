"""``EgressRoute`` and ``EgressLockdown`` as a Pulumi multi-language component package named ``istio-egress``.

``provider/__main__.py`` serves :func:`component_provider` over gRPC, so TypeScript, Go, C#, Java
and YAML programs can ``pulumi package add`` it; the schema is inferred from the annotations and
docstrings of the components and their args.
"""

import dataclasses
import inspect
import json
from collections.abc import Callable
from typing import Any

import pulumi
from pulumi.errors import InputPropertiesError, InputPropertyError
from pulumi.provider import ConstructResult
from pulumi.provider.experimental.analyzer import ComponentDefinition, PropertyDefinition, PropertyType
from pulumi.provider.experimental.component import ComponentProvider
from pulumi.provider.experimental.util import camel_case
from pulumi.provider.server import ComponentInitError

from . import __version__
from .component import EgressRoute
from .lockdown_component import EgressLockdown
from .route import EgressRouteError

PACKAGE = "istio-egress"
"""The package name: schema tokens are ``istio-egress:index:<Name>``."""
COMPONENTS: tuple[type[pulumi.ComponentResource], ...] = (EgressRoute, EgressLockdown)


class EgressRouteProvider(ComponentProvider):
    """Pulumi's inferred component provider, with three refinements for non-Python callers.

    * Bad input comes back as INVALID_ARGUMENT with a message and the schema property it concerns
      (the CLI shows it per property), not as an UNKNOWN error carrying a Python traceback.
    * Integer and enum inputs that depend on other resources reach the component as Outputs
      instead of crashing the SDK's eager ``int(...)`` / ``TlsMode(...)`` conversion.
    * Descriptions are dedented: docstring continuation lines keep their source indentation,
      which Go doc comments would render as code blocks.
    """

    def __init__(self) -> None:
        for component in COMPONENTS:
            _require_evaluated_annotations(component)
        super().__init__(list(COMPONENTS), PACKAGE, version=__version__)
        assert self.schema is not None  # ComponentProvider always builds one
        self.schema = json.dumps(_dedent_descriptions(json.loads(self.schema)))

    def construct(
        self,
        name: str,
        resource_type: str,
        inputs: pulumi.Inputs,
        options: pulumi.ResourceOptions | None = None,
    ) -> ConstructResult:
        try:
            return super().construct(name, resource_type, inputs, options)
        except InputPropertyError as err:
            # The SDK's own checks (missing input, unknown enum value) travel with an empty message.
            component = resource_type.rsplit(":", 1)[-1]
            raise InputPropertiesError(
                f"{component} {name!r}: {err.reason}", [{"property_path": err.property_path, "reason": err.reason}]
            ) from err
        except ComponentInitError as err:
            if not isinstance(err.inner, EgressRouteError):
                raise
            bad = err.inner
            raise InputPropertiesError(
                str(bad),
                [{"property_path": camel_case(bad.field), "reason": f"{bad.problem}. Fix: {bad.fix}"}],
            ) from bad

    def map_inputs(self, inputs: pulumi.Inputs, component_def: ComponentDefinition) -> pulumi.Inputs:
        # An input with dependencies (``port: service.port`` in TypeScript) arrives as an Output, and
        # the SDK's int()/Enum() on it raises. Convert those inside the Output; the component then
        # decides whether the field may be an Output at all.
        deferred: dict[str, tuple[pulumi.Output[Any], Callable[[Any], Any]]] = {}
        for key, value in inputs.items():
            prop = component_def.inputs.get(key)
            convert = self._converter(prop) if prop is not None else None
            if isinstance(value, pulumi.Output) and convert is not None:
                deferred[key] = (value, convert)
        # Marked optional so the SDK's required-input check does not miss the inputs held back here.
        relaxed = dataclasses.replace(
            component_def,
            inputs={
                key: dataclasses.replace(prop, optional=True) if key in deferred else prop
                for key, prop in component_def.inputs.items()
            },
        )
        mapped = dict(super().map_inputs({k: v for k, v in inputs.items() if k not in deferred}, relaxed))
        for key, (value, convert) in deferred.items():
            mapped[component_def.inputs_mapping[key]] = value.apply(_unless_none(convert))
        return mapped

    def _converter(self, prop: PropertyDefinition) -> Callable[[Any], Any] | None:
        if prop.type == PropertyType.INTEGER:
            return int
        type_def = self.get_type_definition(prop) if prop.ref else None
        if type_def is not None and type_def.enum:
            enum_type: Callable[[Any], Any] = type_def.python_type
            return enum_type
        return None


def component_provider() -> ComponentProvider:
    """The provider that ``provider/__main__.py`` serves, hosting ``EgressRoute`` and ``EgressLockdown``."""
    return EgressRouteProvider()


def schema() -> dict[str, Any]:
    """The package schema, exactly as GetSchema returns it (parsed)."""
    text = component_provider().schema
    assert text is not None
    parsed: dict[str, Any] = json.loads(text)
    return parsed


def _unless_none(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else convert(value)


def _require_evaluated_annotations(component: type[pulumi.ComponentResource]) -> None:
    """Fail clearly where Pulumi's analyzer would fail cryptically.

    The analyzer reads ``__annotations__`` as they are; under ``from __future__ import
    annotations`` they are strings and it dies with "'str' object has no attribute '__mro__'".
    """
    owners: list[Any] = [component, component.__init__]
    args = inspect.get_annotations(component.__init__).get("args")
    if isinstance(args, type):
        owners.append(args)
    for owner in owners:
        quoted = sorted(name for name, value in inspect.get_annotations(owner).items() if isinstance(value, str))
        if quoted:
            raise TypeError(
                f"{owner.__qualname__}: annotations {quoted} are strings, so Pulumi cannot infer the package "
                f"schema from them; remove `from __future__ import annotations` from {owner.__module__} "
                "(and do not quote these annotations)"
            )


def _dedent_descriptions(node: Any) -> Any:
    if isinstance(node, list):
        return [_dedent_descriptions(item) for item in node]
    if not isinstance(node, dict):
        return node
    tidy = {}
    for key, value in node.items():
        if key == "description" and isinstance(value, str):
            tidy[key] = inspect.cleandoc(value)
        else:
            tidy[key] = _dedent_descriptions(value)
    return tidy
