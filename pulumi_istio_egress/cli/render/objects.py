"""From the registrations of a program run to Kubernetes objects, and the whole render."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc as pulumi_rpc

from ...jsontypes import whole_number
from ..redaction import Secret, reveal
from .engine import HELM_RELEASE_TYPE, Monitor, Registration, run_program
from .errors import RenderError
from .project import load_project, load_stack_config, select_stack


@dataclass(frozen=True)
class RenderedObject:
    """One Kubernetes object declared by the program, with the Pulumi resource it came from."""

    manifest: dict[str, Any]
    pulumi_type: str
    pulumi_name: str
    urn: str
    parent_urn: str


# ---------------------------------------------------------------------------------------------
# Kubernetes knowledge

_K8S_PROVIDER_TYPE = "pulumi:providers:kubernetes"

# Cluster-scoped kinds get no namespace. Deliberately a short explicit list: everything else
# (including every Istio kind) is namespaced.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "FlowSchema",
        "GatewayClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)

# Document order inside a namespace: the egress chain in the order it is read, then the rest.
_KIND_ORDER = ("Namespace", "ServiceEntry", "Gateway", "DestinationRule", "VirtualService", "AuthorizationPolicy")
_KIND_RANK = {kind: rank for rank, kind in enumerate(_KIND_ORDER)}


def _api_version_from_token(token: str) -> tuple[str, str]:
    """``kubernetes:core/v1:ConfigMap`` -> (``v1``, ``ConfigMap``); ``apps/v1`` stays ``apps/v1``."""
    _, module, kind = token.split(":", 2)
    api_version = module.removeprefix("core/")
    # Typed `...Patch` resources carry a partial object of the base kind.
    return api_version, kind.removesuffix("Patch")


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]



# ---------------------------------------------------------------------------------------------
# From registrations to manifests


def _plain(value: Any, where: str, path: str) -> Any:
    """Plain YAML-able data: secrets kept as :class:`Secret`, Nones dropped, integral floats back to ints."""
    if pulumi_rpc.is_rpc_secret(value):
        return Secret(_plain(pulumi_rpc.unwrap_rpc_secret(value), where, path))
    if isinstance(value, dict):
        return {
            str(k): _plain(v, where, f"{path}.{k}")
            for k, v in value.items()
            if pulumi_rpc.unwrap_rpc_secret(v) is not None
        }
    if isinstance(value, list):
        return [
            _plain(v, where, f"{path}[{i}]") for i, v in enumerate(value) if pulumi_rpc.unwrap_rpc_secret(v) is not None
        ]
    if isinstance(value, float):
        if not math.isfinite(value):
            # kubectl sends JSON, which has no NaN or infinity: it would refuse the file.
            raise RenderError(f"{where}: {path} is {value}, which Kubernetes' JSON cannot carry")
        # Mocks pass numbers through protobuf doubles: 443 comes back as 443.0.
        whole = whole_number(value)
        return value if whole is None else whole
    if isinstance(value, (str, int)):  # bool is an int
        return value
    if isinstance(value, Unknown) or value == pulumi_rpc.UNKNOWN:
        raise RenderError(
            f"{where}: {path.removeprefix('inputs.')} is not known before deployment (it comes from a value only "
            "a deployment knows: a StackReference output, a helm Release's status or another object's status), "
            "so it cannot be rendered offline; give it as a plain value, e.g. from stack config"
        )
    raise RenderError(f"{where}: cannot render a {type(value).__name__} at {path}")


def _strip_internal(mapping: dict[str, Any]) -> dict[str, Any]:
    # Pulumi bookkeeping keys (`__defaults`, `__inputs`, ...) live at the top and in metadata;
    # deeper down a `__x` key may be real data (a ConfigMap file name), so it stays.
    return {k: v for k, v in mapping.items() if not k.startswith("__")}


def _manifest(reg: Registration, default_namespace: str) -> dict[str, Any]:
    where = f"resource {reg.name!r} ({reg.type})"
    inputs = _strip_internal(_plain(reg.inputs, where, "inputs"))
    token_version, token_kind = _api_version_from_token(reg.type)
    # Identity is public (it is in the URN and the file name), even when computed from a secret.
    api_version = reveal(inputs.pop("apiVersion", None)) or token_version
    kind = reveal(inputs.pop("kind", None)) or token_kind
    metadata = inputs.pop("metadata", None)
    metadata = metadata.value if isinstance(metadata, Secret) else metadata
    metadata = _strip_internal(metadata) if isinstance(metadata, dict) else {}
    for key in ("name", "namespace"):
        if key in metadata:
            metadata[key] = reveal(metadata[key])
    if not metadata.get("name"):
        raise RenderError(
            f"{where} has no metadata.name; the real provider would add a random suffix, so set the name explicitly"
        )
    if kind not in CLUSTER_SCOPED_KINDS and not metadata.get("namespace"):
        metadata["namespace"] = default_namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **inputs}


def object_identity(manifest: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = manifest.get("metadata") or {}
    return (
        _group(str(manifest.get("apiVersion", ""))),
        str(manifest.get("kind", "")),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def _order_key(obj: RenderedObject) -> tuple[str, int, str, str, str, str]:
    group, kind, namespace, name = object_identity(obj.manifest)
    return (namespace, _KIND_RANK.get(kind, len(_KIND_RANK)), kind, name, group, obj.urn)


def _objects(monitor: Monitor, config: Mapping[str, str]) -> list[RenderedObject]:
    # Registrations arrive in thread-completion order; sort so that errors name the same
    # resources on every run.
    registrations = sorted(
        monitor.registrations, key=lambda r: (r.urn, json.dumps(r.inputs, sort_keys=True, default=str))
    )
    seen_urns: dict[str, Registration] = {}
    for reg in registrations:
        if reg.urn in seen_urns:
            # Mocks accept this silently; the engine would stop the update.
            raise RenderError(f"duplicate resource URN {reg.urn}: give one of the resources another name")
        seen_urns[reg.urn] = reg

    # Unnamespaced objects land in the provider's namespace, as they would on a real update.
    provider_namespaces = {
        reg.urn: str(pulumi_rpc.unwrap_rpc_secret(reg.inputs["namespace"]))
        for reg in registrations
        if reg.type == _K8S_PROVIDER_TYPE and pulumi_rpc.unwrap_rpc_secret(reg.inputs.get("namespace"))
    }
    default_namespace = config.get("kubernetes:namespace") or "default"

    objects: list[RenderedObject] = []
    owners: dict[tuple[str, str, str, str], Registration] = {}
    for reg in registrations:
        if not (reg.custom and reg.type.startswith("kubernetes:")) or reg.type == HELM_RELEASE_TYPE:
            continue  # a Release is a chart the provider installs, not an object (see _Mocks)
        provider_urn = reg.provider.rpartition("::")[0] if reg.provider else ""
        manifest = _manifest(reg, provider_namespaces.get(provider_urn, default_namespace))
        identity = object_identity(manifest)
        if identity in owners:
            _, kind, namespace, name = identity
            ref = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
            raise RenderError(f"resources {owners[identity].name!r} and {reg.name!r} both declare {ref}")
        owners[identity] = reg
        objects.append(RenderedObject(manifest, reg.type, reg.name, reg.urn, reg.parent))
    return sorted(objects, key=_order_key)


def render_program(
    program_dir: str | os.PathLike[str],
    *,
    stack: str | None = None,
    config_file: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[RenderedObject]:
    """Run the Pulumi program in ``program_dir`` offline and return the Kubernetes objects it declares.

    ``stack`` picks ``Pulumi.<stack>.yaml`` (default: the only stack file, else ``dev``);
    ``config_file`` replaces that file. ``progress`` is called with the running count of
    Kubernetes objects as they are registered (from a worker thread). Objects come back in
    document order: namespace, then kind (Namespace, ServiceEntry, Gateway, DestinationRule,
    VirtualService, AuthorizationPolicy, others alphabetically), then name.
    """
    project = load_project(Path(program_dir))
    stack_name, stack_path = select_stack(project, stack, config_file)
    config = dict(project.config)
    if stack_path is not None:
        config.update(load_stack_config(stack_path, project.name))
    monitor = run_program(project, stack_name, config, progress)
    return _objects(monitor, config)

