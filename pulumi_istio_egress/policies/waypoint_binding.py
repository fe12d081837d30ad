"""waypoint-binding-resolves: every ``istio.io/use-waypoint`` label names a waypoint that takes it.

In ambient mode the label is intent only: when istiod cannot bind an object to the waypoint it
names, ztunnel sends the traffic straight to its destination, past every policy the waypoint was
meant to enforce, and nothing fails (pilot/pkg/serviceregistry/ambient/waypoints.go,
``fetchWaypointForTarget`` and ``fetchWaypointForService``). For each object of the stack that
carries the label (ServiceEntry, Service, Namespace, any other), naming a waypoint other than
``none``:

- the waypoint, ``<istio.io/use-waypoint-namespace or the object's namespace>/<label>``, is a
  ``gateway.networking.k8s.io`` Gateway of the stack, or is listed in ``externalWaypoints``
  (waypoints made outside the stack, e.g. by ``istioctl waypoint apply``);
- a ServiceEntry or Service is service traffic: a waypoint of the stack labelled
  ``istio.io/waypoint-for`` ``workload`` or ``none`` does not take it (``ReportWaypointUnsupportedTrafficType``);
- from another namespace, the waypoint's HBONE listener admits it: ``allowedRoutes.namespaces.from``
  ``All`` (``Same``, the default, refuses; a ``Selector`` is judged by its ``matchLabels`` against
  the Namespace object when the stack holds it, and not judged otherwise).

What the waypoint serves reads the Gateway's ``istio.io/waypoint-for``, else its GatewayClass's
(``gatewayToWaypointTransform``). The same resolution (:mod:`.waypoints`) decides the ambient
paths of :mod:`.routing_ambient`, so ``diagram`` draws no path this rule reports.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..findings import Finding, Manifest
from .objects import kind_of, meta, string_list
from .rule import Config, StackRule
from .waypoints import (
    SERVICE_TRAFFIC,
    USE_WAYPOINT,
    WAYPOINT_FOR,
    Waypoints,
    binding_of,
    is_namespace,
    label_path,
    labels,
    own_namespace,
)

BYPASS = "so its traffic goes straight to the destination, past the waypoint and its policies"


def _is_service(manifest: Manifest) -> bool:
    return kind_of(manifest) == "ServiceEntry" or (
        isinstance(manifest, dict) and manifest.get("apiVersion") == "v1" and manifest.get("kind") == "Service")


def check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    index = Waypoints(manifests)
    external = set(string_list(config, "externalWaypoints"))
    found: list[tuple[Manifest, Finding]] = []
    for manifest in manifests:
        binding = binding_of(manifest)
        if binding is None:
            continue
        path, name = label_path(USE_WAYPOINT), binding.waypoint.split("/", 1)[1]
        namespace = binding.waypoint.split("/", 1)[0]
        gateway = index.gateways.get(binding.waypoint)
        kind = manifest.get("kind") if isinstance(manifest.get("kind"), str) else "object"
        what = "this namespace's services" if is_namespace(manifest) else f"this {kind}"
        if gateway is None:
            if binding.waypoint not in external:
                found.append((manifest, Finding(
                    path, name,
                    f"it names the waypoint {binding.waypoint}, which is no Gateway of this stack: istiod binds "
                    f"{what} to no waypoint, {BYPASS} (the label is intent only)",
                    f"create the waypoint (a gateway.networking.k8s.io/v1 Gateway {name} in namespace {namespace} "
                    f"with gatewayClassName istio-waypoint; EgressRoute with dataplane AMBIENT makes one), correct "
                    f"the label, or list '{binding.waypoint}' in externalWaypoints if it is made outside this stack",
                )))
            continue
        # istiod's order: attachment from the namespace (fetchWaypointForTarget), then the traffic type.
        source = own_namespace(manifest)
        admitted, detail = index.admits(gateway, source)
        if admitted is False:
            admits = (f"admits only its own namespace ({detail})" if detail.endswith(": Same") else
                      f"does not admit namespace {source} ({detail})")
            found.append((manifest, Finding(
                path, name,
                f"the waypoint {binding.waypoint} {admits}: "
                f"istiod refuses to bind {what} from namespace {source}, {BYPASS}",
                f"set allowedRoutes.namespaces.from: All (or a Selector matching {source}) on the waypoint's HBONE "
                f"listener (port 15008), or use a waypoint in namespace {source}",
            )))
            continue
        serves = index.traffic_type(gateway)
        if _is_service(manifest) and serves not in SERVICE_TRAFFIC:
            found.append((manifest, Finding(
                path, name,
                f"the waypoint {binding.waypoint} takes no service traffic ({WAYPOINT_FOR}: {serves}): istiod does "
                f"not bind this {manifest['kind']} to it, {BYPASS}",
                f"label the waypoint {WAYPOINT_FOR}: service (or all), or name a waypoint for services",
            )))
    found += _inherited(manifests, index)
    return found


def _inherited(manifests: Sequence[Manifest], index: Waypoints) -> list[tuple[Manifest, Finding]]:
    """Services without a label of their own take their Namespace's waypoint; a waypoint of the
    stack that takes no service traffic is no waypoint for them (fetchWaypointForService). Whether
    the waypoint exists and admits the namespace is reported on the Namespace itself."""
    found: list[tuple[Manifest, Finding]] = []
    for manifest in manifests:
        if not _is_service(manifest) or USE_WAYPOINT in labels(manifest):
            continue
        binding = index.binding(manifest)
        gateway = index.gateways.get(binding.waypoint) if binding else None
        if binding is None or gateway is None or index.traffic_type(gateway) in SERVICE_TRAFFIC:
            continue
        namespace, serves = meta(manifest, "namespace"), index.traffic_type(gateway)
        found.append((manifest, Finding(
            "metadata.namespace", namespace,
            f"its namespace's {USE_WAYPOINT} names the waypoint {binding.waypoint}, which takes no service traffic "
            f"({WAYPOINT_FOR}: {serves}): istiod does not bind this {manifest['kind']} to it, {BYPASS}",
            f"label the waypoint {WAYPOINT_FOR}: service (or all), or give this {manifest['kind']} an {USE_WAYPOINT} "
            "label naming a waypoint for services",
        )))
    return found


RULE = StackRule(
    name="waypoint-binding-resolves",
    description="Every istio.io/use-waypoint label names a waypoint of the stack (or a listed external one) that "
                "takes the object: otherwise ambient traffic silently bypasses the waypoint.",
    severity="high",
    enforcement="mandatory",
    check=check,
    config_schema={"externalWaypoints": {
        "type": "array", "items": {"type": "string"},
        "description": "Waypoints made outside the stack, as namespace/name (e.g. istio-egress/waypoint).",
    }},
)
