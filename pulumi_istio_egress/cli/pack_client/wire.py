"""The Analyzer protocol's data: enforcement levels, the resources and results it carries, and
property marshalling with Pulumi's signatures.

Property marshalling supports what Kubernetes manifests need: ``None``, ``bool``, ``int``,
``float``, ``str``, lists/tuples and string-keyed mappings, plus :class:`Secret` (sent with
Pulumi's secret signature) and :data:`UNKNOWN` (sent as the unknown-string sentinel, as the CLI
does for an unknown output during preview). Not supported: assets, archives, resource references,
output values, and type-specific unknowns (unknown bool/number/array/object sentinels are only
read back, never produced). Integers travel as protobuf doubles, as in the CLI: the pack sees
``443.0`` and loses precision above 2**53.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2

from ..redaction import Secret

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
"""Valid enforcement levels, as spelled in config files and reported in :class:`Violation`."""

_LEVEL_FROM_WIRE = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_TO_WIRE = {name: value for value, name in _LEVEL_FROM_WIRE.items()}

# Signatures from pulumi/pulumi sdk/go/common/resource/properties.go and plugin/rpc.go.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        _UNKNOWN_STRING,
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)

# Same ceiling as the policy SDK's server, so a large AnalyzeStack is not refused client side.


class _Unknown(enum.Enum):
    VALUE = "unknown"


UNKNOWN = _Unknown.VALUE
"""A property value that is not known yet (preview): the pack's policies that read it are skipped."""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    """The pack's default for this policy: one of :data:`LEVELS`."""
    config_schema: dict[str, Any] | None
    """The JSON schema the CLI validates this policy's config against (``type: object``), if any."""


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    """``version`` from PulumiPolicy.yaml when set (the CLI prefers it), else what the pack reports."""
    policies: tuple[PolicyInfo, ...]
    """Sorted by name, as the CLI sorts them."""
    initial_config: dict[str, dict[str, Any]]
    """The pack's ``initial_config`` as it arrives over the wire: ``{policy: {"enforcementLevel": …, **props}}``.
    An entry the pack gave without a level arrives as ``advisory`` (proto3 zero value)."""


@dataclass(frozen=True)
class Violation:
    policy_name: str
    description: str
    message: str
    """As the pack sends it: the policy description, a newline, then the reported message."""
    enforcement_level: str
    urn: str
    """For resource policies the analyzed resource; for stack policies the reported URN when it names
    a resource of the stack, else the root stack URN (as the CLI attributes them)."""
    pack_name: str


def _urn(stack: str, project: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _stack_urn(stack: str, project: str) -> str:
    return _urn(stack, project, "pulumi:pulumi:Stack", f"{project}-{stack}")


@dataclass(frozen=True)
class Resource:
    """One resource as the CLI sends it to Analyze/AnalyzeStack (type, name, properties, URN, graph)."""

    type: str
    name: str
    props: dict[str, Any]
    urn: str = ""
    """Empty means ``urn:pulumi:<stack>::<project>::<type>::<name>`` with the process's stack/project."""
    parent: str = ""
    dependencies: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], project: str = "project", stack: str = "stack") -> Resource:
        """What pulumi-kubernetes registers for a Kubernetes object.

        Type ``kubernetes:<apiVersion>:<Kind>`` (the core group ``v1`` becomes ``core/v1``); name
        ``<namespace>/<name>`` for namespaced objects, like pulumi-kubernetes' YAML support, so two
        objects with one name in different namespaces stay distinct. The provider's Check (which
        may add defaults or autoname annotations) is not simulated: props are the manifest itself.
        """
        api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
        metadata = manifest.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
            raise ValueError(f"manifest needs a string apiVersion and kind, got {api_version!r}/{kind!r}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{kind} manifest has no metadata.name")
        assert isinstance(metadata, Mapping)
        namespace = metadata.get("namespace")
        type_ = f"kubernetes:{api_version if '/' in api_version else 'core/' + api_version}:{kind}"
        qualified = f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
        return cls(
            type=type_,
            name=qualified,
            props=copy.deepcopy(dict(manifest)),
            urn=_urn(stack, project, type_, qualified),
        )


# --- property marshalling -------------------------------------------------------------------------


def _to_wire(value: Any, where: str) -> Any:
    """A JSON-like value with Pulumi's signatures, ready for ``Struct.update``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Secret):
        return {_SIG_KEY: _SECRET_SIG, "value": _to_wire(value.value, where)}
    if value is UNKNOWN:
        return _UNKNOWN_STRING
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: property keys must be strings, got {key!r}")
            out[key] = _to_wire(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_wire(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where}: cannot send a {type(value).__name__} to a policy pack")


def _struct(props: Mapping[str, Any], *, skip_internal: bool) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    # The CLI drops top-level "__" keys for Analyze/AnalyzeStack but keeps them for Remediate.
    out.update(
        {key: _to_wire(value, key) for key, value in props.items() if not (skip_internal and key.startswith("__"))}
    )
    return out


def _from_wire(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return Secret(_from_wire(value.get("value")))
        return {key: _from_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_wire(item) for item in value]
    if isinstance(value, str) and value in _UNKNOWN_SENTINELS:
        return UNKNOWN
    return value


def _plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)

