"""The pure core: a validated ``Route`` becomes the Istio objects of its pattern, as plain dicts.

Placement, and why:
- Gateway, VirtualService, the TLS-originating DestinationRule and the gateway's ServiceEntry live
  in the egress gateway's namespace: the gateway reads credentials only from there. The
  VirtualService is shown to the client namespaces; the gateway's ServiceEntry (the host's TLS
  port, which only the gateway dials) and the originating DestinationRule are the gateway's alone.
- What a client's sidecar needs lives in each client namespace, exported to ``"."``: the
  ServiceEntry with only the port apps use (a sidecar builds a direct SNI chain for every TLS port
  it can see and no route covers, ``buildSidecarOutboundTLSFilterChainOpts`` in istio's
  pilot/pkg/networking/core/tls.go, so the host's TLS port must stay out of its sight under
  origination), and the DestinationRule that defines the route's subset of the gateway Service (the
  first place a sidecar looks; Istio merges the subsets of several routes only when their
  DestinationRules share namespace and exportTo).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, NamedTuple

from .args import TlsMode
from .findings import Manifest
from .names import MESH
from .route import GATEWAY_HTTP_PORT, GATEWAY_TLS_PORT, Route

NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"


class ObjectKey(NamedTuple):
    """What a route's object is, known before its contents: Pulumi child names end in ``key``."""

    key: str
    api_version: str
    kind: str


class Shape(NamedTuple):
    """The fields that decide which objects a route has. A component reads them from its raw
    arguments, which must be plain for these, so it can register its children before other inputs
    (Outputs) resolve; ``Shape.of`` reads the same from a parsed ``Route``."""

    mode: TlsMode
    client_namespaces: tuple[str, ...]
    authorization_policy: bool
    terminates: bool = False
    """Termination is asked for (the Secret's name itself may be an Output)."""
    creates_waypoint: bool = False

    @property
    def originates(self) -> bool:
        return self.mode is not TlsMode.PASSTHROUGH

    @property
    def app_tls(self) -> bool:
        """As ``Route.app_tls``: apps speak TLS (PASSTHROUGH, or the gateway terminates)."""
        return not self.originates or self.terminates

    @classmethod
    def of(cls, route: Route) -> Shape:
        return cls(route.mode, route.client_namespaces, route.authorization_policy, route.terminates,
                   route.creates_waypoint)


# Keys every flavour uses the same way: Pulumi child names, so they never change.
SERVICE_ENTRY = ObjectKey("serviceentry", NETWORKING, "ServiceEntry")
ORIGINATION = ObjectKey("origination-destinationrule", NETWORKING, "DestinationRule")
AUTHORIZATION = ObjectKey("authorizationpolicy", SECURITY, "AuthorizationPolicy")

Build = Callable[[Route], Manifest]
Table = list[tuple[ObjectKey, Build]]
"""A flavour's objects for one shape, in apply order: each key with how to build its manifest."""


def build_table(table_of: Callable[[Shape], Table], route: Route) -> dict[str, Manifest]:
    """Every object of ``route`` by key, from the same table its keys come from."""
    return {key.key: make(route) for key, make in table_of(Shape.of(route))}


def object_table(shape: Shape) -> Table:
    """The ISTIO flavour's objects: ServiceEntries first, AuthorizationPolicy last."""
    table: Table = [(SERVICE_ENTRY, service_entry)]
    table += [(ObjectKey(f"serviceentry-{ns}", NETWORKING, "ServiceEntry"), partial(client_service_entry, namespace=ns))
              for ns in shape.client_namespaces]
    table.append((ObjectKey("gateway", NETWORKING, "Gateway"), gateway))
    table += [(ObjectKey(f"gateway-destinationrule-{ns}", NETWORKING, "DestinationRule"),
               partial(gateway_destination_rule, namespace=ns)) for ns in shape.client_namespaces]
    if shape.originates:
        table.append((ORIGINATION, origination_destination_rule))
    table.append((ObjectKey("virtualservice", NETWORKING, "VirtualService"), virtual_service))
    if shape.authorization_policy:
        table.append((AUTHORIZATION, authorization_policy))
    return table


def object_keys(originates: bool, client_namespaces: Sequence[str], authorization_policy: bool) -> list[ObjectKey]:
    """The ISTIO flavour's keys from the fields that decide them (the table's keys)."""
    mode = TlsMode.SIMPLE if originates else TlsMode.PASSTHROUGH  # only "originates" matters here
    return [key for key, _ in object_table(Shape(mode, tuple(client_namespaces), authorization_policy))]


def keyed_manifests(route: Route) -> dict[str, Manifest]:
    """Every object the route needs, by key, in apply order."""
    return build_table(object_table, route)


def route_manifests(route: Route) -> list[Manifest]:
    """Every object the route needs, in apply order (ServiceEntries first, AuthorizationPolicy last)."""
    return list(keyed_manifests(route).values())


MANAGED_BY = "pulumi-istio-egress"
ROUTE_LABEL = "pulumi-istio-egress/route"


def _object(route: Route, api_version: str, kind: str, name: str, spec: dict[str, Any],
            namespace: str | None = None) -> Manifest:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace or route.gateway_namespace,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, ROUTE_LABEL: route.name()},
        },
        "spec": spec,
    }


def client_principals(route: Route) -> list[str]:
    """The SPIFFE principals of the route's ``client_service_accounts`` (``namespace/name``)."""
    return [f"{route.trust_domain}/ns/{ns}/sa/{sa}"
            for ns, sa in (account.split("/", 1) for account in route.client_service_accounts)]


def _clients(route: Route) -> list[str]:
    """exportTo for objects sidecars must see: the gateway's own namespace and the clients'."""
    return [".", *(ns for ns in route.client_namespaces if ns != route.gateway_namespace)]


def _gateway_port(route: Route) -> int:
    """The gateway listener: 443 when the app's TLS arrives there, 80 for mTLS-wrapped HTTP."""
    return GATEWAY_TLS_PORT if route.app_tls else GATEWAY_HTTP_PORT


def _external_service_entry(route: Route, namespace: str, port: Manifest) -> Manifest:
    return _object(route, NETWORKING, "ServiceEntry", route.name(), {
        "hosts": [route.host],
        "location": "MESH_EXTERNAL",
        "ports": [port],
        "resolution": "DNS",
        "exportTo": ["."],
    }, namespace)


def _host_port(route: Route) -> Manifest:
    """The host's TLS port, the one the gateway dials."""
    if route.originates:
        return {"number": route.port, "name": f"https-{route.port}", "protocol": "HTTPS"}
    return {"number": route.port, "name": f"tls-{route.port}", "protocol": "TLS"}


def service_entry(route: Route) -> Manifest:
    """The gateway's view of the host: its TLS port, visible in the gateway's namespace only."""
    return _external_service_entry(route, route.gateway_namespace, _host_port(route))


def client_service_entry(route: Route, namespace: str) -> Manifest:
    """A client namespace's view of the host: only the port its apps use, which the mesh route covers.

    Under origination that is the plain HTTP port; the host's TLS port is left out, because a
    sidecar that sees a TLS port with no route sends it straight to the host (istio tls.go)."""
    port = (_host_port(route) if route.app_tls
            else {"number": route.app_port, "name": f"http-{route.app_port}", "protocol": "HTTP"})
    return _external_service_entry(route, namespace, port)


def gateway(route: Route) -> Manifest:
    port = _gateway_port(route)
    if not route.originates:
        server = {"port": {"number": port, "name": f"tls-{port}", "protocol": "TLS"},
                  "tls": {"mode": "PASSTHROUGH"}}
    elif route.terminates:
        server = {"port": {"number": port, "name": f"https-{port}", "protocol": "HTTPS"},
                  "tls": {"mode": "SIMPLE", "credentialName": route.terminate_credential_name}}
    else:
        server = {"port": {"number": port, "name": f"https-{port}", "protocol": "HTTPS"},
                  "tls": {"mode": "ISTIO_MUTUAL"}}
    # `<namespace>/<host>`: only VirtualServices in the gateway's namespace (ours) may bind to this
    # server; a bare host would let a VirtualService in any namespace attach routes to our Gateway.
    server["hosts"] = [f"{route.gateway_namespace}/{route.host}"]
    return _object(route, NETWORKING, "Gateway", route.name(), {
        "selector": dict(route.gateway_selector),
        "servers": [server],
    })


def gateway_destination_rule(route: Route, namespace: str) -> Manifest:
    """Sidecars' view of the gateway: the route's subset, mTLS-wrapped when the gateway expects it."""
    # With origination the leg is mTLS, and its SNI picks the gateway server for the host. Otherwise
    # it carries the app's own TLS: DISABLE keeps auto-mTLS from wrapping it a second time.
    tls = {"mode": "DISABLE"} if route.app_tls else {"mode": "ISTIO_MUTUAL", "sni": route.host}
    subset = {"name": route.subset, "trafficPolicy": {"portLevelSettings": [{
        "port": {"number": _gateway_port(route)}, "tls": tls}]}}
    return _object(route, NETWORKING, "DestinationRule", route.name("gateway"), {
        "host": route.gateway_service,
        "subsets": [subset],
        "exportTo": ["."],
    }, namespace)


def origination_destination_rule(route: Route) -> Manifest:
    """The gateway's TLS to the host. Gateway-only: credentials are read from its namespace."""
    sni = route.sni or route.host
    tls: dict[str, Any] = {"mode": route.mode.value, "sni": sni}
    credential = route.client_credential_name or route.ca_credential_name
    if credential:
        tls["credentialName"] = credential
    # Istio checks the host's name by itself only when both `sni` and `subjectAltNames` are empty
    # (setAutoSniAndAutoSanValidation, pilot/pkg/networking/core/cluster_tls.go); we set `sni`, so
    # without explicit names any certificate from a trusted CA would do. Default: the name we dial.
    tls["subjectAltNames"] = list(route.subject_alt_names) or [sni]
    return _object(route, NETWORKING, "DestinationRule", route.name("origination"), {
        "host": route.host,
        "trafficPolicy": {"portLevelSettings": [{"port": {"number": route.port}, "tls": tls}]},
        "exportTo": ["."],
    })


def virtual_service(route: Route) -> Manifest:
    app_port, gw_port = route.app_port, _gateway_port(route)
    to_gateway = {"destination": {"host": route.gateway_service, "subset": route.subset,
                                  "port": {"number": gw_port}}}
    to_host = {"destination": {"host": route.host, "port": {"number": route.port}}}
    spec: dict[str, Any] = {"hosts": [route.host], "gateways": [MESH, route.gateway_ref]}
    if route.app_tls:
        # The app speaks TLS: sidecars can only route it by SNI.
        spec["tls"] = [{"match": [{"gateways": [MESH], "port": app_port, "sniHosts": [route.host]}],
                        "route": [to_gateway]}]
    else:
        spec["http"] = [{"match": [{"gateways": [MESH], "port": app_port}], "route": [to_gateway]}]
    if route.originates:
        spec.setdefault("http", []).append(
            {"match": [{"gateways": [route.gateway_ref], "port": gw_port}], "route": [to_host]})
    else:
        spec["tls"].append({"match": [{"gateways": [route.gateway_ref], "port": gw_port, "sniHosts": [route.host]}],
                            "route": [to_host]})
    spec["exportTo"] = _clients(route)
    return _object(route, NETWORKING, "VirtualService", route.name(), spec)


def authorization_policy(route: Route) -> Manifest:
    """DENY the route's traffic at the gateway to every source that is not one of its clients.

    A DENY, not an ALLOW: once any ALLOW policy selects a workload, every request no ALLOW policy
    matches is denied, which would cut off every other route on the shared gateway, ours or
    hand-written. A DENY touches only what it matches. It matches only on fields both filter chains
    evaluate: istiod drops a DENY rule's HTTP-only fields (`hosts`) on TCP chains, widening it
    (``rule.checkError`` in pilot/pkg/security/authz/model/model.go), so `hosts` would make this
    deny every TCP route's plaintext sources. `connection.sni` is the mTLS leg's SNI, which the
    subset's DestinationRule sets to the host and which selects this route's gateway server."""
    if route.client_service_accounts:
        source: dict[str, Any] = {"notPrincipals": client_principals(route)}
    else:
        source = {"notNamespaces": list(route.client_namespaces)}
    return _object(route, SECURITY, "AuthorizationPolicy", route.name(), {
        "selector": {"matchLabels": dict(route.gateway_selector)},
        "action": "DENY",
        "rules": [{
            "from": [{"source": source}],
            "when": [{"key": "connection.sni", "values": [route.host]}],
        }],
    })
