"""How traffic for an external host:port leaves the mesh: mesh leg -> egress gateway -> host.

This is the sidecar flavour (Istio's classic egress gateway, networking.istio.io objects). Its
answers are read by the stack rules (``egress-via-gateway`` turns each :class:`Break` into a finding,
``egress-visibility`` reads :class:`Routing`) and drawn by ``diagram``, so the two cannot disagree.
Other flavours plug in as sibling modules answering with the same :class:`Path` (``flavour`` names
them): the Gateway API (``routing_gateway_api``) and ambient waypoints (``routing_ambient``). A
ServiceEntry another flavour carries (``objects.unmodelled_service_entries``) gets no sidecar answer.

**The two legs.** For each host of each MESH_EXTERNAL ServiceEntry:

1. **mesh leg**: a VirtualService bound to ``mesh`` (listed in ``gateways``, or ``gateways`` unset)
   whose hosts cover the host has a route for it (a tls match must list an SNI host covering it)
   that goes to an egress gateway Service, and no mesh route for the host goes anywhere else.
   It must be visible (exportTo) in every client namespace: the namespaces the ServiceEntry is
   exported to, less the namespaces the egress gateway runs in (where the gateway proxy, not a
   sidecar, uses the host).
2. **gateway leg**: a VirtualService bound to a Gateway whose servers serve the host routes it,
   through that Gateway, to the host itself (to a host under it, for a wildcard).

**What counts as the egress gateway Service.** Only the gateway's pods carry the Gateway's
listener, and a stack rarely holds the gateway's Service or pods, so the criterion is what the
stack can show: the destination is a Kubernetes Service of the mesh, ``<name>.<ns>.svc.<domain>``
(short names resolved in the VirtualService's namespace), that is neither the external host nor
covered by any MESH_EXTERNAL ServiceEntry. When the stack does hold that Service, its selector must
not contradict the selector of every Gateway serving the host (same label, other value: it
provably selects other pods, e.g. the ingress gateway).

**Per port.** A port of the entry that clients see and no mesh route sends to the gateway leaves
the mesh directly: for a TLS port istiod builds a default SNI chain straight to the host, even
under REGISTRY_ONLY (``buildSidecarOutboundTLSFilterChainOpts``, pilot/pkg/networking/core/tls.go);
an HTTP port gets the default route to the host. The gateway leg is matched by host, not by port.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from ..findings import Manifest
from .gateway_ports import PortMismatch, gateway_match_mismatches, mesh_leg_mismatches, served_ports
from .objects import (
    MESH,
    ORIGINATING,
    PASSING_THROUGH,
    destination_rule_tls,
    dicts,
    gateway_server_hosts,
    host_key,
    host_matches,
    port_number,
    service_namespace,
    strings,
    sub,
    unmodelled_service_entries,
    visible_in,
)
from .stack import Destination, Gateway, Obj, RouteRule, Stack, VirtualService


class MeshRoute(NamedTuple):
    """Where a mesh route for the host sends it; ``bypass`` says why that is not the gateway."""

    vs: VirtualService
    destination: Destination
    bypass: str | None
    ports: frozenset[int] | None = None
    """The ports its mesh matches take; None for every port."""
    section: str = "tls"
    """What the app sends on it: ``http``, ``tls`` or ``tcp`` (the VirtualService section)."""

    def takes(self, port: int | None) -> bool:
        return self.ports is None or port in self.ports


@dataclass(frozen=True)
class Routing:
    """How one external host is routed; everything a rule asks per ServiceEntry is precomputed."""

    host: str
    mesh_routes: tuple[MeshRoute, ...]
    gateways: tuple[Gateway, ...]
    """Gateways with a server for the host."""
    gateway_legs: tuple[tuple[VirtualService, Gateway], ...]
    """VirtualServices bound to such a Gateway that route the host on to itself."""
    to_gateway: tuple[MeshRoute, ...]
    bypassing: tuple[MeshRoute, ...]
    mesh_virtual_services: tuple[VirtualService, ...]
    """VirtualServices with a mesh route for the host to the gateway."""
    scope: frozenset[str]
    """Where sidecars see such a route."""
    gateway_namespaces: frozenset[str]
    """Where the gateway runs: the namespaces of the gateway Services mesh routes send the host to.
    Not the Gateway objects' namespaces: a Gateway selects pods in any namespace, and istiod reads
    the gateway's DestinationRules and credentials from the pods' namespace (pilot/pkg/xds/sds.go,
    SidecarScope.DestinationRule in pilot/pkg/model/sidecar.go). Empty when no mesh route says."""
    subsets: dict[VirtualService, tuple[tuple[str, str], ...]]
    """(gateway Service, subset) pairs each mesh VirtualService sends the host to."""

    @classmethod
    def build(cls, host: str, mesh: list[MeshRoute], gateways: list[Gateway],
              legs: list[tuple[VirtualService, Gateway]]) -> Routing:
        to_gateway = tuple(r for r in mesh if r.bypass is None)
        subsets: dict[VirtualService, dict[tuple[str, str], None]] = {}
        for r in to_gateway:
            pairs = subsets.setdefault(r.vs, {})
            if r.destination.subset is not None:
                pairs[(r.destination.host, r.destination.subset)] = None
        homes = {service_namespace(r.destination.host) for r in to_gateway}
        return cls(
            host=host, mesh_routes=tuple(mesh), gateways=tuple(gateways), gateway_legs=tuple(legs),
            to_gateway=to_gateway, bypassing=tuple(r for r in mesh if r.bypass is not None),
            mesh_virtual_services=tuple(subsets),
            scope=frozenset[str]().union(*(vs.scope for vs in subsets)),
            gateway_namespaces=frozenset(ns for ns in homes if ns),
            subsets={vs: tuple(pairs) for vs, pairs in subsets.items()},
        )


class Router:
    """The routing of each external host, computed once per host and stack."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self._cache: dict[str, Routing] = {}
        self._bypasses: dict[tuple[str, str], str | None] = {}

    def __call__(self, host: str) -> Routing:
        if host not in self._cache:
            self._cache[host] = self._route(host)
        return self._cache[host]

    def _route(self, host: str) -> Routing:
        gateways = self.stack.gateways_serving(host)
        mesh: list[MeshRoute] = []
        legs: list[tuple[VirtualService, Gateway]] = []
        for vs in self.stack.virtual_services_for(host):
            bound = [self.stack.gateways[g] for g in vs.bound if g != MESH and g in self.stack.gateways]
            for rule in vs.rules:
                if MESH in vs.bound and rule.applies(MESH, host):
                    ports = _mesh_ports(rule, host)
                    mesh += [MeshRoute(vs, d, self._bypass(d.host, host, gateways), ports, rule.section)
                             for d in rule.destinations]
                legs += [(vs, gw) for gw in bound
                         if gw.serves(host, vs.namespace) and rule.applies(gw.ref, host)
                         and any(_reaches(d.host, host) for d in rule.destinations)]
        return Routing.build(host, mesh, gateways, legs)

    def _bypass(self, destination: str, host: str, gateways: list[Gateway]) -> str | None:
        key = (destination, host)
        if key not in self._bypasses:
            self._bypasses[key] = self._why_not_gateway(destination, host, gateways)
        return self._bypasses[key]

    def _why_not_gateway(self, destination: str, host: str, gateways: list[Gateway]) -> str | None:
        if destination == host:
            return "the external host itself"
        if self.stack.is_external(destination):
            return "an external host (a MESH_EXTERNAL ServiceEntry covers it)"
        if service_namespace(destination) is None:
            return "not a Kubernetes Service of the mesh (<name>.<namespace>.svc.<domain>)"
        selector = self.stack.service_selector(destination)
        if selector is not None and gateways and all(_contradicts(g.selector, selector) for g in gateways):
            return (f"its Service selects {_labels(selector)}, pods that no Gateway serving {host} configures "
                    f"({'; '.join(f'{g.ref} selects {_labels(g.selector)}' for g in gateways[:3])})")
        return None


def _mesh_ports(rule: RouteRule, host: str) -> frozenset[int] | None:
    """The ports the rule's mesh matches for the host take (None: every port)."""
    ports: set[int] = set()
    for m in rule.matches:
        if MESH in m.gateways and (m.sni is None or any(host_matches(s, host) for _, s in m.sni)):
            if m.port is None:
                return None
            ports.add(m.port)
    return frozenset(ports)


def _reaches(destination: str, host: str) -> bool:
    return destination == host or (host.startswith("*") and host_matches(host, destination))


def _contradicts(gateway_selector: dict[str, Any], service_selector: dict[str, Any]) -> bool:
    return any(k in service_selector and service_selector[k] != v for k, v in gateway_selector.items())


def _labels(selector: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in sorted(selector.items(), key=str)) + "}"


def client_namespaces(entry: Obj, routing: Routing) -> frozenset[str]:
    """Namespaces whose sidecars use the entry's host: where it is exported, less the namespaces the
    egress gateway runs in (its own view of the host is not a client's) (``{"*"}``: all)."""
    if "*" not in entry.scope:
        return entry.scope - routing.gateway_namespaces
    return entry.scope


# --- where a path breaks -------------------------------------------------------------------------

BreakKind = Literal["no-mesh-route", "bypass", "unrouted-port", "unseen-by-clients", "no-gateway",
                    "no-gateway-route", "gateway-port",
                    # ambient (routing_ambient): the waypoint binding fails, or the waypoint drops a port
                    "no-waypoint", "waypoint-refuses-namespace", "waypoint-not-for-services",
                    "waypoint-drops-port"]


@dataclass(frozen=True)
class Break:
    """Why traffic for the entry's host does not reach it through the gateway, and for whom."""

    kind: BreakKind
    """``no-mesh-route``: no mesh route at all; ``bypass``: a mesh route goes elsewhere
    (``Routing.bypassing``); ``unrouted-port``: no mesh route takes ``port``; ``unseen-by-clients``:
    the mesh route is not visible in ``clients``; ``no-gateway``: no Gateway serves the host;
    ``no-gateway-route``: no VirtualService bound to such a Gateway routes it on to the host;
    ``gateway-port``: a route's port is not one the Gateway serves the host on (:mod:`.gateway_ports`,
    reported by ``egress-references-resolve`` on the VirtualService, never by ``breaks``); the
    ambient kinds are described in ``routing_ambient``."""
    port: int | None = None
    """The ServiceEntry port it breaks; None: every port of the host."""
    index: int | None = None
    """For ``unrouted-port``: the port's index in ``spec.ports``."""
    clients: tuple[str, ...] = ()
    """For ``unseen-by-clients``: the namespaces (``*``: every namespace but the route's); else
    empty, meaning every client."""
    covered: tuple[int, ...] = ()
    """For ``unrouted-port``: the ports the mesh routes to the gateway take."""
    detail: str = ""
    """For the ambient kinds: what the stack shows (``routing_ambient``)."""

    def hits(self, port: int | None, client: str | None = None) -> bool:
        """Whether this break applies to ``port`` (for ``client``, when given)."""
        if self.port is not None and self.port != port:
            return False
        return client is None or not self.clients or client in self.clients or "*" in self.clients


def breaks(entry: Obj, routing: Routing) -> list[Break]:
    """Where the entry's path for ``routing.host`` breaks, in the order ``egress-via-gateway`` reports."""
    found: list[Break] = []
    if not routing.mesh_routes:
        found.append(Break("no-mesh-route"))
    elif routing.bypassing:
        found.append(Break("bypass"))
    found += _unrouted_ports(entry, routing)
    unseen = _unrouted_clients(entry, routing)
    if unseen:
        found.append(Break("unseen-by-clients", clients=tuple(unseen)))
    if not routing.gateways:
        found.append(Break("no-gateway"))
    elif not routing.gateway_legs:
        found.append(Break("no-gateway-route"))
    return found


def _unrouted_ports(entry: Obj, routing: Routing) -> list[Break]:
    """Judged only once some route reaches the gateway (no route at all is a break of its own) and
    only where clients see the entry."""
    if not routing.to_gateway or not client_namespaces(entry, routing):
        return []
    covered: set[int] = set()
    for route in routing.to_gateway:
        if route.ports is None:
            return []
        covered |= route.ports
    return [Break("unrouted-port", port=number, index=i, covered=tuple(sorted(covered)))
            for i, port in dicts(entry.body.get("ports"))
            if (number := port_number(port.get("number"))) is not None and number not in covered]


def _unrouted_clients(entry: Obj, routing: Routing) -> list[str]:
    """Client namespaces where no mesh route to the gateway is visible (none when there is no route
    at all: that is a break of its own)."""
    if not routing.to_gateway:
        return []
    clients = client_namespaces(entry, routing)
    if "*" in clients:
        return [] if "*" in routing.scope else ["*"]
    return sorted(ns for ns in clients if not visible_in(routing.scope, ns))


# --- the answer per host:port --------------------------------------------------------------------


@dataclass(frozen=True)
class Path:
    """How the clients' traffic for one ``host:port`` leaves, in any flavour."""

    host: str
    port: int | None
    """The port clients connect to (the ServiceEntry's); None when the entry lists none."""
    entry: str
    """``namespace/name`` of the ServiceEntry."""
    flavour: str
    """``sidecar`` (mesh -> egress gateway -> host), ``waypoint`` (ztunnel -> waypoint -> host), ..."""
    via: str | None
    """``namespace/name`` of the gateway (or waypoint) that sends it on to the host."""
    app: str
    """What the app sends: ``http``, ``tls`` or ``tcp``; empty when no route says."""
    server_tls: str | None = None
    """The TLS mode of the gateway's server for the host (ServerTLSSettings.TLSmode), if any."""
    server_protocol: str = ""
    """The protocol of that server's port, upper case."""
    passthrough: bool = False
    """The gateway passes the app's TLS through by SNI, uninterpreted (PASSTHROUGH); otherwise it
    sees the traffic (HTTP, or TLS it terminates: SIMPLE, MUTUAL, ISTIO_MUTUAL)."""
    origination: str | None = None
    """SIMPLE or MUTUAL when the gateway originates TLS to the host."""
    target_port: int | None = None
    """The host's port the gateway sends it to."""
    breaks: tuple[Break, ...] = ()

    @property
    def works(self) -> bool:
        return not self.breaks

    def works_for(self, client: str) -> bool:
        return not any(b.hits(self.port, client) for b in self.breaks)


def sidecar_paths(stack: Stack, manifests: Sequence[Manifest]) -> list[Path]:
    """One path per (host, port) of each MESH_EXTERNAL ServiceEntry some client uses, in stack
    order. A ServiceEntry no client sees (the gateway's own copy of the host) is no path of its own."""
    router = Router(stack)
    unmodelled = unmodelled_service_entries(list(manifests))
    found: list[Path] = []
    for entry in stack.service_entries:
        if (entry.namespace, entry.name) in unmodelled:
            continue
        numbers = [port_number(p.get("number")) for _, p in dicts(entry.body.get("ports"))]
        ports: list[int | None] = [n for n in numbers if n is not None] or [None]
        for _, raw in strings(entry.body.get("hosts")):
            routing = router(host_key(raw))
            if not client_namespaces(entry, routing):
                continue
            broken = breaks(entry, routing)
            found += [_sidecar_path(stack, entry, routing, port, broken) for port in dict.fromkeys(ports)]
    return found


def _sidecar_path(stack: Stack, entry: Obj, routing: Routing, port: int | None, broken: list[Break]) -> Path:
    host = routing.host
    # The mesh route that takes the port; for a broken path, any mesh route says what the app sends.
    mesh = next((r for r in routing.to_gateway if r.takes(port)), next(iter(routing.mesh_routes), None))
    app = mesh.section if mesh is not None else ""
    ported = [Break("gateway-port", port=port)] if routing.gateway_legs and _port_broken(routing, mesh, port) else []
    base = Path(host=host, port=port, entry=entry.ref, flavour="sidecar", via=None, app=app,
                target_port=port, breaks=tuple(b for b in [*broken, *ported] if b.hits(port)))
    if not routing.gateway_legs:
        return base
    gateway_vs, gateway = routing.gateway_legs[0]
    server = _server(gateway, host) or {}
    mode = sub(server, "tls", "mode")
    mode = mode if isinstance(mode, str) else None
    protocol = str(sub(server, "port", "protocol") or "").upper()
    origination = _origination(stack, routing)
    return Path(
        host=host, port=port, entry=entry.ref, flavour="sidecar", via=gateway.ref, app=app,
        server_tls=mode, server_protocol=protocol,
        # A tls route through a server without tls settings on a TLS port is passed through too.
        passthrough=origination is None
        and (mode in PASSING_THROUGH or (app == "tls" and not mode and protocol == "TLS")),
        origination=origination, target_port=_host_port(gateway_vs, gateway, host) or port, breaks=base.breaks,
    )


def port_mismatches(stack: Stack, routing: Routing) -> list[PortMismatch]:
    """The routes of an egress host whose port is not one its Gateway serves it on; judged for a
    MESH_EXTERNAL host or one a gateway leg sends on to itself (an ingress route's mesh leg to an
    app is no egress)."""
    if not (stack.is_external(routing.host) or routing.gateway_legs):
        return []
    mesh = [(r.vs, r.destination.path, r.destination.host, r.destination.port, r.ports) for r in routing.to_gateway]
    return [*mesh_leg_mismatches(routing.host, mesh, routing.gateways),
            *gateway_match_mismatches(routing.host, routing.gateway_legs)]


def _port_broken(routing: Routing, mesh: MeshRoute | None, port: int | None) -> bool:
    """Whether the gateway does not take ``port``'s traffic: its mesh route goes to a gateway port
    with no server for the host, or no gateway-bound rule for the host applies on a served port."""
    served = served_ports(routing.gateways, routing.host)
    if mesh is not None and mesh.bypass is None and mesh.destination.port is not None and served \
            and mesh.destination.port not in served:
        return True
    dead = gateway_match_mismatches(routing.host, routing.gateway_legs)
    live = [(vs, rule) for vs, gw in routing.gateway_legs for rule in vs.rules if rule.applies(gw.ref, routing.host)]
    return bool(dead) and all(any(m.vs is vs and m.path.startswith(rule.path + ".") for m in dead)
                              for vs, rule in live)


def _server(gateway: Gateway, host: str) -> dict[str, Any] | None:
    """The first server of the Gateway that takes ``host``."""
    for _, server in dicts(gateway.body.get("servers")):
        if any(host_matches(pattern, host) for _, pattern in gateway_server_hosts(server)):
            return server
    return None


def _origination(stack: Stack, routing: Routing) -> str | None:
    """The TLS mode (SIMPLE/MUTUAL) the DestinationRule the gateway uses for the host originates:
    istiod's lookup from the namespace the gateway runs in (SidecarScope.DestinationRule)."""
    for namespace in sorted(routing.gateway_namespaces):
        for rule in stack.destination_rules_for(namespace, routing.host):
            mode = originating_mode(rule.manifest)
            if mode is not None:
                return mode
    return None


def originating_mode(manifest: Manifest) -> str | None:
    """SIMPLE or MUTUAL when a DestinationRule originates TLS (any of its tls settings)."""
    for _, tls in destination_rule_tls(manifest):
        if tls.get("mode") in ORIGINATING:
            return str(tls["mode"])
    return None


def _host_port(vs: VirtualService, gateway: Gateway, host: str) -> int | None:
    """The port the gateway-bound VirtualService sends the host to."""
    for rule in vs.rules:
        if rule.applies(gateway.ref, host):
            for destination in rule.destinations:
                if destination.host == host and destination.port is not None:
                    return destination.port
    return None
