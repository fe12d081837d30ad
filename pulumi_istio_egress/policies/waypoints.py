"""How istiod binds ambient services to waypoints, read from a stack's plain manifests.

Shared by the ambient rules (``waypoint_binding``, ``waypoint_policies``). Everything follows
pilot/pkg/serviceregistry/ambient/waypoints.go:

- ``GetUseWaypoint``: the ``istio.io/use-waypoint`` label names the waypoint; ``none`` opts out;
  ``istio.io/use-waypoint-namespace`` gives its namespace, else the object's own namespace.
- ``fetchWaypointForTarget``: an object's own label wins; without one, its namespace's label applies
  (seen here only when the stack holds the Namespace object).
- ``gatewayToWaypointTransform``: a waypoint is a ``gateway.networking.k8s.io`` Gateway; its
  ``istio.io/waypoint-for`` label, else its GatewayClass's, else ``service``, says which traffic it
  takes (``fetchWaypointForService`` binds services only to ``service`` and ``all`` waypoints).
- ``makeAllowedRoutes``: the HBONE listener (port 15008) decides which namespaces may bind to it;
  without ``allowedRoutes`` only its own namespace (``AllowsAttachmentFromNamespace``: ``All``,
  ``Same``, or a ``Selector`` matched against the Namespace's labels).

(In the Istio tree of late 2026 this package is pilot/pkg/serviceregistry/ambient; older releases
have it under pilot/pkg/serviceregistry/kube/controller/ambient.)
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
    """The stack's Gateway API Gateways, GatewayClasses and Namespaces, looked up by name."""

    def __init__(self, manifests: Sequence[Manifest]) -> None:
        self.gateways: dict[str, Manifest] = {}
        self.namespaces: dict[str, Manifest] = {}
        self.classes: dict[str, Manifest] = {}
        for manifest in manifests:
            if is_gateway_api_gateway(manifest):
                self.gateways.setdefault(f"{meta(manifest, 'namespace')}/{meta(manifest, 'name')}", manifest)
            elif is_namespace(manifest) and meta(manifest, "name"):
                self.namespaces.setdefault(meta(manifest, "name"), manifest)
            elif isinstance(manifest, dict) and manifest.get("apiVersion") in GATEWAY_API_VERSIONS \
                    and manifest.get("kind") == "GatewayClass" and meta(manifest, "name"):
                self.classes.setdefault(meta(manifest, "name"), manifest)

    def traffic_type(self, gateway: Manifest) -> str:
        """What a waypoint serves: its own ``istio.io/waypoint-for``, else its GatewayClass's (when
        the stack holds it), else ``service`` (gatewayToWaypointTransform)."""
        own = labels(gateway).get(WAYPOINT_FOR)
        if own is not None:
            return own
        gateway_class = self.classes.get(str(spec(gateway).get("gatewayClassName", "")))
        return labels(gateway_class).get(WAYPOINT_FOR, "service") if gateway_class is not None else "service"

    def admits(self, gateway: Manifest, namespace: str) -> tuple[bool | None, str]:
        """Whether the waypoint's HBONE listener admits services of ``namespace``
        (AllowsAttachmentFromNamespace), with what the listener says; None: not judged (a Selector
        with ``matchExpressions``, or for a namespace the stack does not hold)."""
        path, allowed = allowed_from(gateway)
        detail = f"{path}: {allowed}"
        if namespace == meta(gateway, "namespace") or allowed == "All":
            return True, detail
        if allowed != "Selector":
            return False, detail  # Same, and anything istiod does not know ("should be impossible": Same)
        selector = _listener_selector(gateway)
        source = self.namespaces.get(namespace)
        if source is None or not isinstance(selector, dict) or selector.get("matchExpressions"):
            return None, detail
        found = selector.get("matchLabels")
        wanted: dict[str, Any] = found if isinstance(found, dict) else {}
        have = labels(source)
        return all(have.get(k) == v for k, v in wanted.items()), f"{detail} {_labels_text(wanted)}"

    def binding(self, manifest: Manifest) -> Binding | None:
        """The waypoint a service uses: its own label (``none`` opts out), else its namespace's."""
        if USE_WAYPOINT in labels(manifest):
            return binding_of(manifest)
        namespace = self.namespaces.get(meta(manifest, "namespace"))
        found = binding_of(namespace) if namespace is not None else None
        return Binding(found.manifest, found.waypoint, inherited=True) if found else None


def _listener_selector(gateway: Manifest) -> Any:
    for _, listener in dicts(spec(gateway).get("listeners")):
        if listener.get("protocol") == "HBONE" and port_number(listener.get("port")) == HBONE_PORT:
            return sub(listener, "allowedRoutes", "namespaces", "selector")
    return None


def _labels_text(selector: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(selector.items(), key=str)) + "}"


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


def own_waypoint(manifest: Manifest) -> str | None:
    """``namespace/name`` of the waypoint an object's OWN ``istio.io/use-waypoint`` label names (None
    without one, or ``none``). What a resource rule can see: a binding inherited from the Namespace's
    label needs the stack (:meth:`Waypoints.binding`)."""
    found = binding_of(manifest)
    return found.waypoint if found is not None else None


AMBIENT_IGNORES_EXPORT_TO = (
    "ztunnel and waypoints ignore exportTo (istiod's ambient index sends ztunnel the ServiceEntry without it: "
    "serviceEntriesInfo in pilot/pkg/serviceregistry/ambient/services.go), so it scopes only sidecar clients; "
    "ambient clients reach the host through the waypoint from every namespace"
)
"""What rules say about exportTo on a waypoint-bound ServiceEntry instead of claiming it scopes it."""
