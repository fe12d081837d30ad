"""How istiod binds ambient services to waypoints, read from a stack's plain manifests.

Shared by the ambient rules (``waypoint_binding``, ``waypoint_policies``). Everything follows
pilot/pkg/serviceregistry/ambient/waypoints.go:

- ``GetUseWaypoint``: the ``istio.io/use-waypoint`` label names the waypoint; ``none`` opts out;
  ``istio.io/use-waypoint-namespace`` gives its namespace, else the object's own namespace.
- ``fetchWaypointForTarget``: an object's own label wins; without one, its namespace's label applies
  (seen here only when the stack holds the Namespace object).
- ``gatewayToWaypointTransform``: a waypoint is a ``gateway.networking.k8s.io`` Gateway; its
  ``istio.io/waypoint-for`` label (default ``service``) says which traffic it takes.
- ``makeAllowedRoutes``: the HBONE listener (port 15008) decides which namespaces may bind to it;
  without ``allowedRoutes`` only its own namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..findings import Manifest
from .objects import dicts, kind_of, meta, port_number, spec, sub

GATEWAY_API_VERSIONS = ("gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1")
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
WAYPOINT_FOR = "istio.io/waypoint-for"
WAYPOINT_CLASS = "istio-waypoint"
# The label istiod puts on the pods of a Gateway API gateway (waypoints included).
GATEWAY_NAME_LABEL = "gateway.networking.k8s.io/gateway-name"
HBONE_PORT = 15008
SERVICE_TRAFFIC = ("service", "all")


def labels(manifest: Manifest) -> dict[str, str]:
    """``metadata.labels`` with string values only."""
    value = sub(manifest, "metadata", "labels")
    if not isinstance(value, dict):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def label_path(key: str) -> str:
    return f'metadata.labels["{key}"]'


def is_gateway_api_gateway(manifest: Manifest) -> bool:
    return isinstance(manifest, dict) and manifest.get("apiVersion") in GATEWAY_API_VERSIONS \
        and manifest.get("kind") == "Gateway"


def is_namespace(manifest: Manifest) -> bool:
    return isinstance(manifest, dict) and manifest.get("apiVersion") == "v1" and manifest.get("kind") == "Namespace"


def own_namespace(manifest: Manifest) -> str:
    """The namespace an object's waypoint label is read against: a Namespace's is itself."""
    return meta(manifest, "name") if is_namespace(manifest) else meta(manifest, "namespace")


@dataclass(frozen=True)
class Binding:
    """An object's ``istio.io/use-waypoint`` label, resolved to a waypoint reference."""

    manifest: Manifest
    """The object carrying the label (the ServiceEntry, or the Namespace it inherits from)."""
    waypoint: str
    """``namespace/name`` of the waypoint."""
    inherited: bool
    """The label is on the namespace, not on the object."""


def binding_of(manifest: Manifest) -> Binding | None:
    """The waypoint an object's own labels name; None without a label or for ``none``."""
    found = labels(manifest)
    name = found.get(USE_WAYPOINT)
    if name is None or name == "none":
        return None
    namespace = found.get(USE_WAYPOINT_NAMESPACE, own_namespace(manifest))
    return Binding(manifest, f"{namespace}/{name}", inherited=False)


class Waypoints:
    """The stack's Gateway API Gateways and Namespaces, looked up by name."""

    def __init__(self, manifests: Sequence[Manifest]) -> None:
        self.gateways: dict[str, Manifest] = {}
        self.namespaces: dict[str, Manifest] = {}
        for manifest in manifests:
            if is_gateway_api_gateway(manifest):
                self.gateways.setdefault(f"{meta(manifest, 'namespace')}/{meta(manifest, 'name')}", manifest)
            elif is_namespace(manifest) and meta(manifest, "name"):
                self.namespaces.setdefault(meta(manifest, "name"), manifest)

    def binding(self, manifest: Manifest) -> Binding | None:
        """The waypoint a service uses: its own label (``none`` opts out), else its namespace's."""
        if USE_WAYPOINT in labels(manifest):
            return binding_of(manifest)
        namespace = self.namespaces.get(meta(manifest, "namespace"))
        found = binding_of(namespace) if namespace is not None else None
        return Binding(found.manifest, found.waypoint, inherited=True) if found else None


def traffic_type(gateway: Manifest) -> str:
    """What a waypoint serves: its ``istio.io/waypoint-for`` label, else ``service``. (A GatewayClass
    label can change the default; the Gateway's own label, when set, always wins.)"""
    return labels(gateway).get(WAYPOINT_FOR, "service")


def allowed_from(gateway: Manifest) -> tuple[str, Any]:
    """``allowedRoutes.namespaces.from`` of the waypoint's HBONE listener (``Same`` by default), with
    its path."""
    for i, listener in dicts(spec(gateway).get("listeners")):
        if listener.get("protocol") == "HBONE" and port_number(listener.get("port")) == HBONE_PORT:
            value = sub(listener, "allowedRoutes", "namespaces", "from")
            return f"spec.listeners[{i}].allowedRoutes.namespaces.from", value if isinstance(value, str) else "Same"
    return "spec.listeners", "Same"


def is_service_entry(manifest: Manifest) -> bool:
    return kind_of(manifest) == "ServiceEntry"
