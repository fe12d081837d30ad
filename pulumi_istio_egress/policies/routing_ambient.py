"""How traffic for an external host:port leaves an ambient mesh: ztunnel -> waypoint -> host.

The ambient flavour of :mod:`.routing`: it answers with the same :class:`~.routing.Path` and
:class:`~.routing.Break`, so ``egress-via-gateway`` (which turns the breaks it owns into findings)
and ``diagram`` (which draws the working paths) read one model. A MESH_EXTERNAL ServiceEntry is
*ambient* when :class:`.waypoints.Waypoints` binds it to a waypoint: its own
``istio.io/use-waypoint`` label (``none`` opts out), else its Namespace's when the stack holds it
(``fetchWaypointForTarget`` in pilot/pkg/serviceregistry/ambient/waypoints.go). ztunnel sends
traffic addressed to such a service to the waypoint, so the waypoint is the egress point and no
VirtualService, Gateway server or subset is involved. Where the binding fails, istiod binds the
ServiceEntry to no waypoint and ztunnel sends the traffic straight out (the label is intent only):

- ``no-waypoint``: the named waypoint is no ``gateway.networking.k8s.io`` Gateway of the stack and
  not listed as made outside it (``ReportWaypointIsNotReady``);
- ``waypoint-refuses-namespace``: the waypoint is in another namespace
  (``istio.io/use-waypoint-namespace``) and its HBONE listener does not admit the ServiceEntry's
  namespace (``AllowsAttachmentFromNamespace``, ``makeAllowedRoutes``: ``Same`` by default; a
  ``Selector`` is judged only by ``matchLabels`` against a Namespace the stack holds);
- ``waypoint-not-for-services``: the waypoint's ``istio.io/waypoint-for`` (on the Gateway, else its
  GatewayClass, default ``service``) is ``workload`` or ``none``: ``fetchWaypointForService`` refuses
  it for a ServiceEntry (``ReportWaypointUnsupportedTrafficType``).

These three are ``waypoint-binding-resolves``' facts (it reports them on the label), so
``egress-via-gateway`` does not report them again. The break per port is
``egress-via-gateway``'s: with ``resolution: DYNAMIC_DNS`` (wildcard hosts, Istio 1.28+) the
waypoint builds a cluster only for HTTP ports, and for TLS ports only when istiod runs with
``ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS`` (Istio 1.29+, off by default: the waypoint routes
such TLS by SNI alone, which a client can spoof) (``buildWaypointInboundVIP`` in
pilot/pkg/networking/core/cluster_waypoint.go); connections on any other port fail at the waypoint
(``waypoint-drops-port``).

**exportTo does not scope ambient clients.** The Workload API service istiod sends ztunnel for a
ServiceEntry carries no exportTo (``serviceEntriesInfo``/``constructServiceEntries`` in
pilot/pkg/serviceregistry/ambient/services.go: only the mesh-wide ``serviceEntryVisibility`` by
namespace labels scopes it), and the waypoint takes its services from its binding, looked up in
the full service index (``findWaypointResources`` in pilot/pkg/networking/core/waypoint.go). So no
ambient path has a client scope; DestinationRules still follow istiod's lookup from the waypoint's
namespace (``buildWaypointInboundVIP`` reads ``sidecarScope.DestinationRule``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ..findings import Finding, Manifest
from .objects import (
    HTTP_PROTOCOLS,
    dicts,
    host_key,
    is_external_service_entry,
    kind_of,
    meta,
    port_number,
    spec,
    strings,
)
from .routing import Break, BreakKind, Path, originating_mode
from .stack import Stack
from .waypoints import SERVICE_TRAFFIC, Binding, Waypoints

FLAVOUR = "waypoint"
BINDING_BREAKS: tuple[BreakKind, ...] = ("no-waypoint", "waypoint-refuses-namespace", "waypoint-not-for-services")
"""Breaks ``waypoint-binding-resolves`` reports (on the label); the others are ``egress-via-gateway``'s."""
TLS_PROTOCOLS = ("TLS", "HTTPS")
WILDCARD_TLS_FLAG = "ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS"


@dataclass(frozen=True)
class Resolution:
    """Which waypoint istiod binds an ambient ServiceEntry to, or why none."""

    binding: Binding
    gateway: Manifest | None
    """The waypoint Gateway, when the stack holds it (None: missing, or listed as made elsewhere)."""
    problem: BreakKind | None = None
    """One of :data:`BINDING_BREAKS`, or None when the binding holds (or is not judged)."""
    detail: str = ""
    """What the stack shows about the problem, e.g. ``spec.listeners[0].allowedRoutes.namespaces.from: Same``."""


def is_ambient_entry(index: Waypoints, manifest: Manifest) -> bool:
    return is_external_service_entry(manifest) and index.binding(manifest) is not None


def ambient_service_entries(manifests: Any) -> set[tuple[str, str]]:
    """(namespace, name) of the MESH_EXTERNAL ServiceEntries a waypoint carries: not sidecar routes.
    Anything but a list or tuple of objects has none."""
    if not isinstance(manifests, (list, tuple)):
        return set()
    items = [m for m in manifests if isinstance(m, dict)]
    index = Waypoints(items)
    return {(meta(m, "namespace"), meta(m, "name")) for m in items if is_ambient_entry(index, m)}


def resolve(index: Waypoints, manifest: Manifest, external: Collection[str] = ()) -> Resolution | None:
    """The binding of a service-like object (ServiceEntry or Service) in istiod's order:
    the waypoint, then attachment from the object's namespace, then the traffic type."""
    binding = index.binding(manifest)
    if binding is None:
        return None
    gateway = index.gateways.get(binding.waypoint)
    if gateway is None:
        if binding.waypoint in external:
            return Resolution(binding, None)
        return Resolution(binding, None, "no-waypoint", f"no Gateway {binding.waypoint} in the stack")
    source = meta(manifest, "namespace")
    admitted, detail = index.admits(gateway, source)
    if admitted is False:
        return Resolution(binding, gateway, "waypoint-refuses-namespace", detail)
    serves = index.traffic_type(gateway)
    if serves not in SERVICE_TRAFFIC:
        return Resolution(binding, gateway, "waypoint-not-for-services", f"istio.io/waypoint-for: {serves}")
    return Resolution(binding, gateway)


def waypoint_paths(manifests: Sequence[Manifest], external: Collection[str] = (),
                   stack: Stack | None = None) -> list[Path]:
    """One path per (host, port) of each ambient ServiceEntry, by (namespace, name); ``external``:
    waypoints made outside the stack (``namespace/name``), taken as present and serving services."""
    manifests = [m for m in manifests if isinstance(m, dict)]
    index = Waypoints(manifests)
    found: list[Path] = []
    for entry in sorted(manifests, key=lambda m: (meta(m, "namespace"), meta(m, "name"))):
        if not is_ambient_entry(index, entry):
            continue
        resolution = resolve(index, entry, external)
        if resolution is None:
            continue
        if stack is None:
            stack = Stack(manifests)
        found += _entry_paths(stack, entry, resolution)
    return found


def _entry_paths(stack: Stack, entry: Manifest, resolution: Resolution) -> list[Path]:
    ref = f"{meta(entry, 'namespace')}/{meta(entry, 'name')}"
    body = spec(entry)
    waypoint_namespace = resolution.binding.waypoint.split("/", 1)[0]
    whole = (Break(resolution.problem, detail=resolution.detail),) if resolution.problem else ()
    ports: list[tuple[int, dict[str, Any]] | None] = [*dicts(body.get("ports"))] or [None]
    found: list[Path] = []
    for _, raw in strings(body.get("hosts")):
        host = host_key(raw)
        origination = _origination(stack, waypoint_namespace, host)
        for item in ports:
            index, port = item if item is not None else (None, {})
            number = port_number(port.get("number"))
            protocol = str(port.get("protocol", "")).upper()
            app = "http" if protocol in HTTP_PROTOCOLS else "tls" if protocol in TLS_PROTOCOLS else "tcp"
            dropped = _dropped(body, protocol, number, index)
            found.append(Path(
                host=host, port=number, entry=ref, flavour=FLAVOUR, via=resolution.binding.waypoint, app=app,
                # The waypoint proxies TLS by SNI without terminating it (it has no server credential).
                passthrough=app == "tls", origination=origination if app == "http" else None,
                target_port=port_number(port.get("targetPort")) or number,
                breaks=whole + dropped,
            ))
    return found


def _dropped(body: dict[str, Any], protocol: str, number: int | None, index: int | None) -> tuple[Break, ...]:
    """A DYNAMIC_DNS port the waypoint builds no cluster for (buildWaypointInboundVIP)."""
    if body.get("resolution") != "DYNAMIC_DNS" or protocol == "HTTP":
        return ()
    if protocol == "TLS":
        detail = (f"the waypoint builds no cluster for a TLS port of a DYNAMIC_DNS ServiceEntry unless istiod runs "
                  f"with {WILDCARD_TLS_FLAG}=true (Istio 1.29+, off by default: such TLS is routed by SNI alone, "
                  "which a client can spoof)")
    else:
        detail = (f"the waypoint builds clusters for a DYNAMIC_DNS ServiceEntry only on HTTP and TLS ports, not "
                  f"{protocol or 'a port without protocol'}")
    return (Break("waypoint-drops-port", port=number, index=index, detail=detail),)


def _origination(stack: Stack, namespace: str, host: str) -> str | None:
    """The TLS mode the waypoint originates to ``host``: istiod's DestinationRule lookup from the
    waypoint's namespace (buildWaypointInboundVIP, SidecarScope.DestinationRule)."""
    for rule in stack.destination_rules_for(namespace, host):
        mode = originating_mode(rule.manifest)
        if mode is not None:
            return mode
    return None


# --- what egress-via-gateway reports of the ambient paths -----------------------------------------


def dropped_port_findings(manifests: Sequence[Manifest], stack: Stack | None = None) -> list[tuple[Manifest, Finding]]:
    """``egress-via-gateway``'s findings on ambient ServiceEntries: each port the waypoint drops
    (``waypoint-drops-port``), once per entry and port. The binding breaks are not reported here:
    ``waypoint-binding-resolves`` owns them (one finding per fact)."""
    entries = {f"{meta(m, 'namespace')}/{meta(m, 'name')}": m for m in manifests if kind_of(m) == "ServiceEntry"}
    found: list[tuple[Manifest, Finding]] = []
    seen: set[tuple[str, int | None]] = set()
    for path in waypoint_paths(manifests, stack=stack):
        for broken in path.breaks:
            if broken.kind != "waypoint-drops-port" or (path.entry, broken.index) in seen:
                continue
            seen.add((path.entry, broken.index))
            tls = "TLS port" in broken.detail
            found.append((entries[path.entry], Finding(
                f"spec.ports[{broken.index}].number", broken.port,
                f"the waypoint {path.via} serves no port {broken.port} of this DYNAMIC_DNS ServiceEntry: "
                f"{broken.detail}, so connections to it fail at the waypoint",
                ("serve the wildcard on an HTTP port (the waypoint can originate TLS), set "
                 f"{WILDCARD_TLS_FLAG}=true on istiod if SNI-only routing is accepted, or name the concrete hosts "
                 "with resolution DNS") if tls else
                "give the port protocol HTTP (or TLS), or name the concrete hosts with resolution DNS",
            )))
    return found


def waypoint_homes(manifests: Any) -> dict[str, set[str]]:
    """Host -> the namespaces of the waypoints ambient ServiceEntries for it are bound to: where the
    waypoint reads its DestinationRules for the host (buildWaypointInboundVIP). A rule there is the
    waypoint's, not a sidecar egress gateway's, even when a sidecar route serves the same host."""
    if not isinstance(manifests, (list, tuple)):
        return {}
    items = [m for m in manifests if isinstance(m, dict)]
    index = Waypoints(items)
    homes: dict[str, set[str]] = {}
    for entry in items:
        binding = index.binding(entry) if is_external_service_entry(entry) else None
        if binding is not None:
            for _, raw in strings(spec(entry).get("hosts")):
                homes.setdefault(host_key(raw), set()).add(binding.waypoint.split("/", 1)[0])
    return homes
