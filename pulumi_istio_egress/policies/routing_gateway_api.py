"""The Gateway API flavour of the routing model: mesh route -> Gateway API gateway -> host.

Istio's egress tasks (Gateway API tabs) route an external host with two ``gateway.networking.k8s.io``
routes. istiod turns both into VirtualServices (``HTTPRouteCollection``, ``TLSRouteCollection`` in
pilot/pkg/config/kube/gateway/route_collections.go), so the path is the sidecar flavour's, read
from other objects; the answers are :class:`.routing.Path` with :class:`.routing.Break`:

1. **mesh leg**: a route whose parentRef is the ServiceEntry (group ``networking.istio.io``, kind
   ``ServiceEntry``; an unset namespace is the route's: ``toInternalParentReference``). istiod makes
   a mesh VirtualService for the entry's hosts; a missing entry gives none ("TODO: report an error"
   in ``TLSRouteCollection``). A ``port`` in the parentRef limits it to that port
   (``augmentPortMatch``, ``augmentTLSPortMatch``); an HTTPRoute routes the entry's HTTP ports, a
   TLSRoute its TLS ports, a TCPRoute any. Its backendRef is the Service Istio deploys for the
   Gateway: ``<gateway name>-<gatewayClassName>`` in the Gateway's namespace (``GetDefaultName``,
   pilot/pkg/config/kube/gatewaycommon/gateway_utils.go), whose ports are the listeners' ports
   (``extractServicePorts``, gatewaycommon/deploymentcontroller.go): a port no listener has reaches
   no gateway.
2. **gateway leg**: a route whose parentRef is that Gateway (``sectionName`` / ``port`` pick the
   listener: ``referenceAllowed``), allowed by the listener's ``allowedRoutes`` (``Same`` by default),
   of a kind the listener takes (HTTPRoute on HTTP/HTTPS, TLSRoute on TLS), with a backendRef of kind
   ``Hostname`` (group ``networking.istio.io``) naming the host (``buildDestination``: the ServiceEntry
   host).

A TLS listener in ``Passthrough`` mode routes by SNI, uninterpreted; an HTTPS listener terminating
the sidecars' ``ISTIO_MUTUAL`` (option ``gateway.istio.io/tls-terminate-mode``) sees HTTP.

**Which ServiceEntries this flavour carries** (``objects.gateway_api_service_entries``): those a
route names in ``parentRefs``, and those whose host is the exact listener hostname of a Gateway API
Gateway while no VirtualService names it (the gateway's own copy of the host, an entry whose mesh
leg names the wrong parent). Clients are the namespaces the entry is exported to, less those of the
Gateway API Gateways serving the host (their proxy is no client).

What this model does not read (another gatewayClassName, ``allowedRoutes`` by selector, other
parent or backend kinds) it records in ``GatewayApi.not_read``; ``gateway_api_findings.unjudged`` says
it as the rules' not-applicable reason, never as a verdict. Entries a waypoint carries are the
waypoint rules' (ambient), not this flavour's.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..findings import Manifest
from .objects import (
    GATEWAY_API_GROUP,
    GATEWAY_API_ROUTES,
    HTTP_PROTOCOLS,
    dicts,
    exported_to,
    gateway_api_service_entries,
    host_key,
    host_matches,
    is_external_service_entry,
    kind_of,
    meta,
    port_number,
    spec,
    strings,
    sub,
    visible_in,
)
from .routing import Break, Path, originating_mode
from .stack import Stack

ISTIO_GROUP = "networking.istio.io"
ISTIO_CLASS = "istio"
TERMINATE_MODE = "gateway.istio.io/tls-terminate-mode"
HTTP_KINDS = ("HTTPRoute", "GRPCRoute")
TLS_PROTOCOLS = ("TLS", "HTTPS")
_APP = {"HTTPRoute": "http", "GRPCRoute": "http", "TLSRoute": "tls", "TCPRoute": "tcp"}


def is_gateway_api(manifest: Any, kinds: Sequence[str]) -> bool:
    if not isinstance(manifest, dict):
        return False
    api = manifest.get("apiVersion")
    return isinstance(api, str) and api.startswith(GATEWAY_API_GROUP + "/") and manifest.get("kind") in kinds


@dataclass(frozen=True)
class Ref:
    """A parentRef or backendRef, defaulted as the CRDs default it."""

    path: str
    group: str
    kind: str
    name: str
    namespace: str
    port: int | None
    section: str | None = None


@dataclass(frozen=True)
class Listener:
    index: int
    name: str
    port: int | None
    protocol: str
    hostname: str | None
    tls_mode: str | None
    terminate_mode: str | None
    allowed_from: str

    def serves(self, host: str) -> bool:
        return self.hostname is None or host_matches(self.hostname, host)

    def takes(self, kind: str) -> bool:
        if self.protocol in ("HTTP", "HTTPS"):
            return kind in HTTP_KINDS
        if self.protocol == "TLS":
            return kind in ("TLSRoute", "TCPRoute") if self.tls_mode == "Terminate" else kind == "TLSRoute"
        return kind == "TCPRoute"


@dataclass(frozen=True)
class ApiGateway:
    manifest: Manifest
    namespace: str
    name: str
    listeners: tuple[Listener, ...]

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def service(self) -> str:
        """The Service Istio deploys for it (``GetDefaultName``)."""
        return f"{self.name}-{ISTIO_CLASS}"

    def ports(self) -> list[int]:
        return sorted({listener.port for listener in self.listeners if listener.port is not None})


@dataclass(frozen=True)
class ApiRoute:
    manifest: Manifest
    kind: str
    namespace: str
    name: str
    hostnames: tuple[str, ...]
    parents: tuple[Ref, ...]
    backends: tuple[Ref, ...]

    @property
    def ref(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def names_host(self, host: str) -> bool:
        return not self.hostnames or any(host_matches(h, host) or host_matches(host, h) for h in self.hostnames)


@dataclass(frozen=True)
class GatewayLeg:
    """Where a mesh backendRef arrives: the Gateway, its listener for the port, the routes on to the host."""

    route: ApiRoute
    backend: Ref
    gateway: ApiGateway | None
    listener: Listener | None
    onward: tuple[tuple[ApiRoute, Ref], ...] = ()
    attached: tuple[ApiRoute, ...] = ()
    """Routes on the listener for the host, whatever their backends."""


@dataclass
class GatewayApi:
    """Every Gateway API object the flavour reads, indexed once."""

    manifests: Sequence[Manifest]
    entries: dict[tuple[str, str], Manifest] = field(default_factory=dict)
    gateways: dict[tuple[str, str], ApiGateway] = field(default_factory=dict)
    routes: list[ApiRoute] = field(default_factory=list)
    not_read: list[str] = field(default_factory=list)
    """What the model does not understand, one sentence each (``unjudged``)."""

    _stack: Stack | None = None

    def stack(self) -> Stack:
        """The classic index of the same objects (DestinationRule lookups), built on first use."""
        if self._stack is None:
            self._stack = Stack(self.manifests)
        return self._stack

    def __post_init__(self) -> None:
        self.manifests = objects_of(self.manifests)
        for m in self.manifests:
            if kind_of(m) == "ServiceEntry":
                self.entries.setdefault((meta(m, "namespace"), meta(m, "name")), m)
            elif is_gateway_api(m, ("Gateway",)):
                self._add_gateway(m)
            elif is_gateway_api(m, GATEWAY_API_ROUTES):
                self.routes.append(_route(m))
        for route in self.routes:
            for ref in (*route.parents, *route.backends):
                if (ref.group, ref.kind) not in _READ_KINDS:
                    self.not_read.append(f"{route.ref} {ref.path} refers to {ref.group or 'core'}/{ref.kind} "
                                         f"{ref.name}, a kind the Gateway API egress model does not read")

    def _add_gateway(self, m: Manifest) -> None:
        body, ref = spec(m), f"Gateway {meta(m, 'namespace')}/{meta(m, 'name')}"
        if body.get("gatewayClassName") != ISTIO_CLASS:
            self.not_read.append(f"{ref} has gatewayClassName {body.get('gatewayClassName')!r}, not istio: who "
                                 "deploys it and under which Service is not Istio's to say")
            return
        listeners = []
        for i, raw in dicts(body.get("listeners")):
            allowed = sub(raw, "allowedRoutes", "namespaces", "from") or "Same"
            if allowed not in ("Same", "All"):
                self.not_read.append(f"{ref} spec.listeners[{i}] allows routes from {allowed} namespaces, which "
                                     "the Gateway API egress model does not read")
            hostname = raw.get("hostname")
            options = sub(raw, "tls", "options")
            listeners.append(Listener(
                index=i, name=str(raw.get("name") or ""), port=port_number(raw.get("port")),
                protocol=str(raw.get("protocol") or "").upper(),
                hostname=host_key(hostname) if isinstance(hostname, str) and hostname else None,
                tls_mode=_text(sub(raw, "tls", "mode")),
                terminate_mode=_text(options.get(TERMINATE_MODE)) if isinstance(options, dict) else None,
                allowed_from=str(allowed)))
        gateway = ApiGateway(m, meta(m, "namespace"), meta(m, "name"), tuple(listeners))
        self.gateways.setdefault((gateway.namespace, gateway.name), gateway)

    # -- the legs -------------------------------------------------------------------------------

    def serving(self, host: str) -> list[ApiGateway]:
        """Gateways with a listener whose explicit hostname covers ``host``."""
        return [g for g in self.gateways.values()
                if any(lst.hostname is not None and lst.serves(host) for lst in g.listeners)]

    def carried(self) -> set[tuple[str, str]]:
        """(namespace, name) of the ServiceEntries this flavour judges (see the module docstring)."""
        return gateway_api_service_entries(list(self.manifests))

    def mesh_routes(self, entry: Manifest, port: int | None, protocol: str) -> list[tuple[ApiRoute, Ref]]:
        """(route, parentRef) of the mesh routes istiod applies to ``port`` of the entry."""
        key = (meta(entry, "namespace"), meta(entry, "name"))
        found = []
        for route in self.routes:
            for parent in route.parents:
                if is_entry(parent) and (parent.namespace, parent.name) == key \
                        and (parent.port is None or parent.port == port) and _routes_protocol(route.kind, protocol):
                    found.append((route, parent))
        return found

    def arrival(self, route: ApiRoute, backend: Ref, host: str) -> GatewayLeg:
        """Where a mesh route's backendRef arrives, and what routes the host on from there."""
        gateway = next((g for g in self.gateways.values() if backend.kind == "Service" and not backend.group
                        and g.namespace == backend.namespace and g.service == backend.name), None)
        if gateway is None:
            return GatewayLeg(route, backend, None, None)
        listener = next((lst for lst in gateway.listeners if lst.port == backend.port and lst.serves(host)), None)
        if listener is None:
            return GatewayLeg(route, backend, gateway, None)
        attached = tuple(r for r in self.routes if listener.takes(r.kind) and r.names_host(host)
                         and _attached(r, gateway, listener))
        onward = tuple((r, b) for r in attached for b in r.backends if reaches(b, host))
        return GatewayLeg(route, backend, gateway, listener, onward, attached)

    def unresolved(self, route: ApiRoute, backend: Ref) -> tuple[str, str] | None:
        """(why, fix) when istiod cannot resolve the backendRef (``buildDestination``), else None. A
        Service the stack does not hold is not judged: it may well exist in the cluster."""
        if (backend.group, backend.kind) == (ISTIO_GROUP, "Hostname"):
            host = host_key(backend.name)
            if not any(host in {host_key(h) for _, h in strings(spec(e).get("hosts"))}
                       and visible_in(exported_to(e), route.namespace) for e in self.entries.values()):
                return (f"no ServiceEntry visible in {route.namespace} declares host {backend.name}, so istiod cannot "
                        "resolve this backend (buildDestination: backend not found) and the route has no destination",
                        f"declare {backend.name} in a ServiceEntry exported to {route.namespace}, or name a host one "
                        "declares")
        elif (backend.group, backend.kind) == ("", "Service") and backend.namespace != route.namespace \
                and any((p.group, p.kind) == (GATEWAY_API_GROUP, "Gateway") for p in route.parents) \
                and not self._granted(route, backend):
            return (f"Service {backend.namespace}/{backend.name} is in another namespace and no ReferenceGrant there "
                    f"lets {route.kind}s of {route.namespace} refer to it, so istiod refuses the backend on the "
                    "gateway (buildDestination, ReferenceGrants.BackendAllowed) and the route has no destination",
                    f"add a ReferenceGrant in {backend.namespace} from group gateway.networking.k8s.io, kind "
                    f"{route.kind}, namespace {route.namespace} to kind Service (name {backend.name})")
        return None

    def _granted(self, route: ApiRoute, backend: Ref) -> bool:
        for m in self.manifests:
            if not is_gateway_api(m, ("ReferenceGrant",)) or meta(m, "namespace") != backend.namespace:
                continue
            allowed_from = any((f.get("group"), f.get("kind"), f.get("namespace")) ==
                               (GATEWAY_API_GROUP, route.kind, route.namespace) for _, f in dicts(spec(m).get("from")))
            allowed_to = any(t.get("group", "") == backend.group and t.get("kind") == backend.kind
                             and t.get("name") in (None, "", backend.name) for _, t in dicts(spec(m).get("to")))
            if allowed_from and allowed_to:
                return True
        return False


_READ_KINDS = {(ISTIO_GROUP, "ServiceEntry"), (GATEWAY_API_GROUP, "Gateway"), ("", "Service"),
               (ISTIO_GROUP, "Hostname")}


def objects_of(manifests: Any) -> list[Manifest]:
    """The dict objects of a stack; anything that is not a list of objects reads as empty."""
    if isinstance(manifests, (str, bytes, Mapping)) or not isinstance(manifests, Iterable):
        return []
    return [m for m in manifests if isinstance(m, dict)]


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _route(m: Manifest) -> ApiRoute:
    body, namespace = spec(m), meta(m, "namespace")
    parents = tuple(_ref(f"spec.parentRefs[{i}]", raw, namespace, GATEWAY_API_GROUP, "Gateway")
                    for i, raw in dicts(body.get("parentRefs")))
    backends = tuple(_ref(f"spec.rules[{i}].backendRefs[{j}]", raw, namespace, "", "Service")
                     for i, rule in dicts(body.get("rules")) for j, raw in dicts(rule.get("backendRefs")))
    hostnames = tuple(host_key(h) for _, h in strings(body.get("hostnames")))
    return ApiRoute(m, str(m.get("kind")), namespace, meta(m, "name"), hostnames, parents, backends)


def _ref(path: str, raw: dict[str, Any], namespace: str, group: str, kind: str) -> Ref:
    # The CRDs default group and kind (Gateway for parents, core Service for backends); an unset
    # namespace is the route's (toInternalParentReference, buildDestination).
    own = raw.get("namespace")
    return Ref(path=path, group=str(raw.get("group", group)), kind=str(raw.get("kind", kind)),
               name=str(raw.get("name") or ""), namespace=own if isinstance(own, str) and own else namespace,
               port=port_number(raw.get("port")), section=_text(raw.get("sectionName")))


def is_entry(ref: Ref) -> bool:
    return (ref.group, ref.kind) == (ISTIO_GROUP, "ServiceEntry")


def _routes_protocol(kind: str, protocol: str) -> bool:
    """Whether a mesh route of ``kind`` routes a ServiceEntry port of ``protocol``: istiod applies
    a VirtualService's http routes to HTTP ports and its tls routes to TLS ports."""
    if kind in HTTP_KINDS:
        return protocol in HTTP_PROTOCOLS
    if kind == "TLSRoute":
        return protocol in TLS_PROTOCOLS
    return kind == "TCPRoute"


def _attached(route: ApiRoute, gateway: ApiGateway, listener: Listener) -> bool:
    """A parentRef of the route picks the listener (``referenceAllowed``) and the listener allows
    the route's namespace."""
    if listener.allowed_from == "Same" and route.namespace != gateway.namespace:
        return False
    return any((p.group, p.kind) == (GATEWAY_API_GROUP, "Gateway") and (p.namespace, p.name)
               == (gateway.namespace, gateway.name) and (p.section is None or p.section == listener.name)
               and (p.port is None or p.port == listener.port) for p in route.parents)


def reaches(backend: Ref, host: str) -> bool:
    return (backend.group, backend.kind) == (ISTIO_GROUP, "Hostname") and host_key(backend.name) == host


# --- the answer per host:port --------------------------------------------------------------------


@dataclass(frozen=True)
class Judged:
    """One host:port of a carried entry: its path and what each break is about."""

    entry: Manifest
    path: Path
    legs: tuple[GatewayLeg, ...]
    mesh: tuple[tuple[ApiRoute, Ref], ...]
    index: int | None
    protocol: str = ""


def judged(model: GatewayApi, ambient: set[tuple[str, str]]) -> Iterator[Judged]:
    """Each client-visible host:port of the ServiceEntries the flavour carries, in stack order."""
    carried = model.carried() - ambient
    for m in model.manifests:
        key = (meta(m, "namespace"), meta(m, "name"))
        if not is_external_service_entry(m) or key not in carried or model.entries.get(key) is not m:
            continue
        ports = [(i, port_number(p.get("number")), str(p.get("protocol") or "").upper())
                 for i, p in dicts(spec(m).get("ports"))]
        for _, raw in strings(spec(m).get("hosts")):
            host = host_key(raw)
            homes = {g.namespace for g in model.serving(host)}
            scope = exported_to(m)
            if "*" not in scope and not scope - homes:
                continue  # only the gateway sees it: the gateway's own copy of the host
            for index, number, protocol in ports:
                yield _judge(model, m, host, index, number, protocol)


def _judge(model: GatewayApi, entry: Manifest, host: str, index: int, port: int | None, protocol: str) -> Judged:
    mesh = model.mesh_routes(entry, port, protocol)
    legs = tuple(model.arrival(route, backend, host) for route, _ in mesh for backend in route.backends)
    found: list[Break] = []
    if not mesh:
        found.append(Break("unrouted-port", port=port, index=index))
    elif any(leg.gateway is None and reaches(leg.backend, host) for leg in legs):
        found.append(Break("bypass", port=port))
    elif not any(leg.gateway is not None for leg in legs):
        found.append(Break("no-gateway", port=port))
    elif not any(leg.onward for leg in legs):
        found.append(Break("no-gateway-route", port=port))
    ref = f"{meta(entry, 'namespace')}/{meta(entry, 'name')}"
    working = next((leg for leg in legs if leg.onward), None)
    app = _APP.get(mesh[0][0].kind, "") if mesh else ""
    base = Path(host=host, port=port, entry=ref, flavour="gateway-api", via=None, app=app, target_port=port,
                breaks=tuple(found))
    if working is None or working.listener is None or working.gateway is None:
        return Judged(entry, base, legs, tuple(mesh), index, protocol)
    listener = working.listener
    _, backend = working.onward[0]
    server_tls = listener.terminate_mode or ("PASSTHROUGH" if listener.tls_mode == "Passthrough"
                                             else "SIMPLE" if listener.tls_mode == "Terminate" else None)
    path = Path(host=host, port=port, entry=ref, flavour="gateway-api", via=working.gateway.ref, app=app,
                server_tls=server_tls, server_protocol=listener.protocol,
                passthrough=listener.protocol == "TLS" and listener.tls_mode in (None, "Passthrough"),
                origination=_origination(model, host, working.gateway.namespace),
                target_port=backend.port or port, breaks=tuple(found))
    return Judged(entry, path, legs, tuple(mesh), index, protocol)


def _origination(model: GatewayApi, host: str, namespace: str) -> str | None:
    """SIMPLE/MUTUAL when the DestinationRule the gateway uses for the host originates TLS: istiod's
    lookup from the namespace Istio deploys the gateway in (the Gateway's), as the sidecar flavour
    reads it (``SidecarScope.DestinationRule``)."""
    for rule in model.stack().destination_rules_for(namespace, host):
        mode = originating_mode(rule.manifest)
        if mode is not None:
            return mode
    return None


def gateway_api_paths(manifests: Sequence[Manifest], ambient: set[tuple[str, str]] | None = None) -> list[Path]:
    """The flavour's answers, for ``diagram`` (the same :class:`Path` the sidecar flavour gives)."""
    return [j.path for j in judged(GatewayApi(objects_of(manifests)), ambient or set())]
