"""egress-via-gateway: every external host is routed mesh -> egress gateway -> host.

For each host of each MESH_EXTERNAL ServiceEntry (``location`` defaults to MESH_EXTERNAL), the mesh
leg and the gateway leg must exist, or sidecars reach the host directly and the gateway's policy
and audit are void. What the legs are, what counts as the egress gateway Service, and where a path
breaks is :mod:`.routing` (its ``breaks``); this rule turns each break into a finding on the
ServiceEntry, so ``diagram`` (drawing routing's working paths) and the rule agree.

Ambient: a ServiceEntry bound to a waypoint (:mod:`.routing_ambient`) goes via the waypoint, its
egress point; it is judged by that flavour (the ports the waypoint drops), and a binding that
fails is ``waypoint-binding-resolves``' finding, not reported again here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..findings import Finding, Manifest
from .gateway_api_findings import unjudged, via_gateway_findings
from .objects import (
    host_key,
    meta,
    service_namespace,
    spec,
    strings,
    unmodelled_service_entries,
    waypoint_service_entries,
)
from .routing import Break, Router, Routing, breaks
from .routing_ambient import ambient_service_entries, dropped_port_findings
from .rule import Config, StackRule
from .stack import Obj, Report, Stack, gc_paused, listing, refs


def check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    with gc_paused():
        return _check(manifests, config)


def _check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    manifests = list(manifests) if isinstance(manifests, Iterator) else manifests
    unmodelled = unmodelled_service_entries(manifests)  # Gateway API: not judged, see objects.py
    ambient = ambient_service_entries(manifests)  # judged by routing_ambient below
    stack = Stack(manifests, destination_rules=False)  # this rule never reads them
    router = Router(stack)
    report = Report()
    for entry in stack.service_entries:
        if (entry.namespace, entry.name) in unmodelled or (entry.namespace, entry.name) in ambient:
            continue
        for i, raw in strings(entry.body.get("hosts")):
            _judge(entry, f"spec.hosts[{i}]", raw, router(host_key(raw)), report)
    _service_hosts(stack, router, report)
    _external_names(manifests, router, report)
    # Gateway API routes: routing_gateway_api's model (a waypoint's entries are the waypoint rules').
    return (report.items + via_gateway_findings(manifests, waypoint_service_entries(manifests))
            + (dropped_port_findings(manifests, stack) if ambient else []))  # ambient: routing_ambient's ports


def _service_hosts(stack: Stack, router: Router, report: Report) -> None:
    """A mesh route to the egress gateway for a Kubernetes Service host (no ServiceEntry declares
    it, e.g. Istio's mTLS-origination task's in-cluster "external" server): its gateway leg is
    judged as an entry's is. Only where a Gateway serves the host, so east-west routes between
    Services are not taken for egress; a missing leg is a 404 NR at the gateway
    (gateway.go buildGatewayHTTPRouteConfig)."""
    judged: set[str] = set()
    for vs in stack.virtual_services:
        for host in vs.hosts:
            if host in judged or service_namespace(host) is None or stack.is_external(host):
                continue
            judged.add(host)
            routing = router(host)
            if routing.to_gateway and routing.gateways and not routing.gateway_legs:
                route = routing.to_gateway[0]
                message, fix = _host_finding(route.vs, routing, Break("no-gateway-route"))
                report.add(route.vs, f"{route.destination.path}.host", route.destination.host, message, fix)


def _external_names(manifests: Sequence[Manifest], router: Router, report: Report) -> None:
    """A Kubernetes ExternalName Service for an external name: istiod makes it a DNS cluster straight
    to that name (pilot/pkg/serviceregistry/kube conversion.go: ExternalName is resolution DNS), so
    sidecars calling the Service leave past the gateway unless a mesh route sends it there."""
    for manifest in manifests if isinstance(manifests, (list, tuple)) else []:
        if not isinstance(manifest, dict) or (manifest.get("apiVersion"), manifest.get("kind")) != ("v1", "Service"):
            continue
        body = spec(manifest)
        target = body.get("externalName")
        if body.get("type") != "ExternalName" or not isinstance(target, str) or not target:
            continue
        if service_namespace(host_key(target)) is not None:
            continue  # another Service of the cluster: not egress
        name, namespace = meta(manifest, "name"), meta(manifest, "namespace")
        if router(f"{name}.{namespace}.svc.cluster.local").to_gateway:
            continue  # routed to the egress gateway: judged as a Service host
        report.items.append((manifest, Finding(
            "spec.externalName", target,
            f"Service {namespace}/{name} is an ExternalName for {target}: istiod gives sidecars a DNS cluster "
            f"straight to {target}, so its traffic bypasses the egress gateway (its policy and audit do not apply)",
            f"declare {target} with a ServiceEntry routed through the egress gateway (EgressRoute), and remove the "
            "ExternalName Service")))


def _judge(entry: Obj, path: str, raw: str, routing: Routing, report: Report) -> None:
    for found in breaks(entry, routing):
        if found.kind == "unrouted-port":
            _unrouted_port(entry, routing, found, report)
        else:
            report.add(entry, path, raw, *_host_finding(entry, routing, found))


def _host_finding(entry: Obj, routing: Routing, found: Break) -> tuple[str, str]:
    """(message, fix) for a break of every port of the host."""
    host = routing.host
    if found.kind == "no-mesh-route":
        return (f"no VirtualService bound to mesh routes {host} to the egress gateway, so sidecars send it "
                "straight to the host and bypass the gateway (its policy and audit do not apply)",
                f"add a VirtualService for {host} bound to mesh whose route sends it to the egress gateway "
                "Service and subset, with a DestinationRule defining the subset (EgressRoute emits both)")
    if found.kind == "bypass":
        routes = [f"VirtualService {r.vs.ref} {r.destination.path} sends it to {r.destination.host}, {r.bypass}"
                  for r in routing.bypassing[:3]]
        more = len(routing.bypassing) - len(routes)
        return (f"mesh traffic for {host} bypasses the egress gateway: {'; '.join(routes)}"
                + (f"; and {more} more route{'s' if more > 1 else ''}" if more else ""),
                f"route {host} from mesh only to the egress gateway Service (e.g. "
                "istio-egressgateway.istio-system.svc.cluster.local), and on to the host from the Gateway")
    if found.kind == "unseen-by-clients":
        missing = list(found.clients)
        mesh_refs = refs(routing.mesh_virtual_services)
        if missing == ["*"]:
            return (f"ServiceEntry {entry.ref} exports {host} to every namespace, but the VirtualService routing "
                    f"it to the egress gateway ({mesh_refs}) is not exported everywhere, so sidecars in the other "
                    "namespaces bypass the gateway",
                    "scope the ServiceEntry's exportTo to the client namespaces")
        return (f"the VirtualService routing {host} to the egress gateway ({mesh_refs}) is not visible in "
                f"{listing(missing)}, where ServiceEntry {entry.ref} exports {host}, so sidecars there bypass "
                "the gateway",
                f"add {listing(missing)} to the VirtualService's exportTo, or stop exporting the ServiceEntry "
                "there")
    if found.kind == "no-gateway":
        return (f"no Gateway serves {host}, so the egress gateway has no listener for it",
                f"add a Gateway selecting the egress gateway pods with a server for {host} (TLS PASSTHROUGH "
                "when the app speaks TLS, HTTPS with ISTIO_MUTUAL when the gateway originates TLS)")
    return (f"no VirtualService bound to Gateway {refs(routing.gateways)} routes {host} on to the host, so "
            "the gateway accepts the connection but has no route for it",
            f"add a VirtualService for {host} bound to Gateway {routing.gateways[0].ref} whose route's "
            f"destination host is {host}")


def _unrouted_port(entry: Obj, routing: Routing, found: Break, report: Report) -> None:
    """The break of one port (see routing's module docstring for istiod's default SNI chain)."""
    number = found.port
    report.add(entry, f"spec.ports[{found.index}].number", number,
               f"no mesh route sends port {number} of {routing.host} to the egress gateway (routes cover "
               f"{listing([str(p) for p in found.covered])}), so sidecars that see this port send it "
               "straight to the host",
               f"route port {number} from mesh to the egress gateway too, or leave it out of the "
               "ServiceEntry clients see (EgressRoute keeps the host's TLS port in a gateway-only ServiceEntry)")


RULE = StackRule(
    name="egress-via-gateway",
    description="Every MESH_EXTERNAL ServiceEntry host is routed mesh -> egress gateway -> host, visible to every "
                "client namespace; otherwise sidecars bypass the gateway and its audit.",
    severity="high",
    enforcement="mandatory",
    check=check,
    applies=lambda manifests, _config: unjudged("egress-via-gateway", manifests),
)
