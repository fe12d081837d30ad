"""egress-via-gateway: every external host is routed mesh -> egress gateway -> host.

For each host of each MESH_EXTERNAL ServiceEntry (``location`` defaults to MESH_EXTERNAL), two legs
must exist, or sidecars reach the host directly and the gateway's policy and audit are void:

1. **mesh leg**: a VirtualService bound to ``mesh`` (listed in ``gateways``, or ``gateways`` unset)
   whose hosts cover the host has a route for it (a tls match must list an SNI host covering it)
   that goes to an egress gateway Service, and no mesh route for the host goes anywhere else.
   It must be visible (exportTo) in every client namespace: the namespaces the ServiceEntry is
   exported to, less its own namespace when that is the gateway's (where the gateway proxy, not a
   sidecar, runs).
2. **gateway leg**: a VirtualService bound to a Gateway whose servers serve the host routes it,
   through that Gateway, to the host itself (to a host under it, for a wildcard).

**What counts as the egress gateway Service.** Only the gateway's pods carry the Gateway's
listener, and a stack rarely holds the gateway's Service or pods, so the criterion is what the
stack can show: the destination is a Kubernetes Service of the mesh, ``<name>.<ns>.svc.<domain>``
(short names resolved in the VirtualService's namespace), that is neither the external host nor
covered by any MESH_EXTERNAL ServiceEntry. When the stack does hold that Service, its selector must
not contradict the selector of every Gateway serving the host (same label, other value: it
provably selects other pods, e.g. the ingress gateway). This accepts
``istio-egressgateway.istio-system.svc.cluster.local`` and a dedicated gateway such as
``partner-egress.egress.svc.cluster.local``, and rejects routes to the host itself, to another
external host, or to a non-Service name.

:class:`Router` (analysis per host, cached) and :func:`client_namespaces` are shared with
``egress-visibility``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..findings import Finding, Manifest
from .egress_references import (
    Destination,
    Gateway,
    Obj,
    Report,
    RouteRule,
    Stack,
    VirtualService,
    gc_paused,
    listing,
    refs,
)
from .objects import (
    MESH,
    dicts,
    host_key,
    host_matches,
    port_number,
    service_namespace,
    strings,
    unmodelled_service_entries,
    visible_in,
)
from .rule import Config, StackRule


class MeshRoute(NamedTuple):
    """Where a mesh route for the host sends it; ``bypass`` says why that is not the gateway."""

    vs: VirtualService
    destination: Destination
    bypass: str | None
    ports: frozenset[int] | None = None
    """The ports its mesh matches take; None for every port."""


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
                    mesh += [MeshRoute(vs, d, self._bypass(d.host, host, gateways), ports) for d in rule.destinations]
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


def check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    with gc_paused():
        return _check(manifests, config)


def _check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    manifests = list(manifests) if isinstance(manifests, Iterator) else manifests
    unmodelled = unmodelled_service_entries(manifests)  # ambient, Gateway API: not judged, see objects.py
    stack = Stack(manifests, destination_rules=False)  # this rule never reads them
    router = Router(stack)
    report = Report()
    for entry in stack.service_entries:
        if (entry.namespace, entry.name) in unmodelled:
            continue
        for i, raw in strings(entry.body.get("hosts")):
            _judge(entry, f"spec.hosts[{i}]", raw, router(host_key(raw)), report)
    return report.items


def _judge(entry: Obj, path: str, raw: str, routing: Routing, report: Report) -> None:
    host = routing.host
    if not routing.mesh_routes:
        report.add(entry, path, raw,
                   f"no VirtualService bound to mesh routes {host} to the egress gateway, so sidecars send it "
                   "straight to the host and bypass the gateway (its policy and audit do not apply)",
                   f"add a VirtualService for {host} bound to mesh whose route sends it to the egress gateway "
                   "Service and subset, with a DestinationRule defining the subset (EgressRoute emits both)")
    elif routing.bypassing:
        routes = [f"VirtualService {r.vs.ref} {r.destination.path} sends it to {r.destination.host}, {r.bypass}"
                  for r in routing.bypassing[:3]]
        more = len(routing.bypassing) - len(routes)
        report.add(entry, path, raw,
                   f"mesh traffic for {host} bypasses the egress gateway: {'; '.join(routes)}"
                   + (f"; and {more} more route{'s' if more > 1 else ''}" if more else ""),
                   f"route {host} from mesh only to the egress gateway Service (e.g. "
                   "istio-egressgateway.istio-system.svc.cluster.local), and on to the host from the Gateway")
    _unrouted_ports(entry, host, routing, report)
    missing = _unrouted_clients(entry, routing)
    mesh_refs = refs(routing.mesh_virtual_services)
    if missing == ["*"]:
        report.add(entry, path, raw,
                   f"ServiceEntry {entry.ref} exports {host} to every namespace, but the VirtualService routing it "
                   f"to the egress gateway ({mesh_refs}) is not exported everywhere, so sidecars in the other "
                   "namespaces bypass the gateway",
                   "scope the ServiceEntry's exportTo to the client namespaces")
    elif missing:
        report.add(entry, path, raw,
                   f"the VirtualService routing {host} to the egress gateway ({mesh_refs}) is not visible in "
                   f"{listing(missing)}, where ServiceEntry {entry.ref} exports {host}, so sidecars there bypass "
                   "the gateway",
                   f"add {listing(missing)} to the VirtualService's exportTo, or stop exporting the ServiceEntry "
                   "there")
    if not routing.gateways:
        report.add(entry, path, raw,
                   f"no Gateway serves {host}, so the egress gateway has no listener for it",
                   f"add a Gateway selecting the egress gateway pods with a server for {host} (TLS PASSTHROUGH "
                   "when the app speaks TLS, HTTPS with ISTIO_MUTUAL when the gateway originates TLS)")
    elif not routing.gateway_legs:
        report.add(entry, path, raw,
                   f"no VirtualService bound to Gateway {refs(routing.gateways)} routes {host} on to the host, so "
                   "the gateway accepts the connection but has no route for it",
                   f"add a VirtualService for {host} bound to Gateway {routing.gateways[0].ref} whose route's "
                   f"destination host is {host}")


def _unrouted_ports(entry: Obj, host: str, routing: Routing, report: Report) -> None:
    """Per port: a port of the entry that clients see and no mesh route sends to the gateway leaves
    the mesh directly. For a TLS port istiod builds a default SNI chain straight to the host, even
    under REGISTRY_ONLY (buildSidecarOutboundTLSFilterChainOpts, pilot/pkg/networking/core/tls.go);
    an HTTP port gets the default route to the host. Judged only once some route reaches the gateway
    (no route at all is reported on its own) and only where clients see the entry."""
    if not routing.to_gateway or not client_namespaces(entry, routing):
        return
    covered: set[int] = set()
    for route in routing.to_gateway:
        if route.ports is None:
            return
        covered |= route.ports
    for i, port in dicts(entry.body.get("ports")):
        number = port_number(port.get("number"))
        if number is None or number in covered:
            continue
        report.add(entry, f"spec.ports[{i}].number", number,
                   f"no mesh route sends port {number} of {host} to the egress gateway (routes cover "
                   f"{listing([str(p) for p in sorted(covered)])}), so sidecars that see this port send it "
                   "straight to the host",
                   f"route port {number} from mesh to the egress gateway too, or leave it out of the "
                   "ServiceEntry clients see (EgressRoute keeps the host's TLS port in a gateway-only ServiceEntry)")


def _unrouted_clients(entry: Obj, routing: Routing) -> list[str]:
    """Client namespaces where no mesh route to the gateway is visible (none when there is no route
    at all: that is reported on its own)."""
    if not routing.to_gateway:
        return []
    clients = client_namespaces(entry, routing)
    if "*" in clients:
        return [] if "*" in routing.scope else ["*"]
    return sorted(ns for ns in clients if not visible_in(routing.scope, ns))


RULE = StackRule(
    name="egress-via-gateway",
    description="Every MESH_EXTERNAL ServiceEntry host is routed mesh -> egress gateway -> host, visible to every "
                "client namespace; otherwise sidecars bypass the gateway and its audit.",
    severity="high",
    enforcement="mandatory",
    check=check,
)
