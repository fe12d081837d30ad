"""The pure core: a validated ``Route`` becomes the Istio objects of its pattern, as plain dicts.

Placement, and why:
- ServiceEntry, Gateway, VirtualService and the TLS-originating DestinationRule live in the egress
  gateway's namespace: the gateway reads credentials only from there. ``exportTo`` shows the
  ServiceEntry and VirtualService to the client namespaces only; the originating DestinationRule
  is the gateway's alone (``"."``).
- The DestinationRule that defines the route's subset of the gateway Service lives in each client
  namespace, exported to ``"."``: it is the first place a client's sidecar looks, and Istio merges
  the subsets of several routes only when their DestinationRules share namespace and exportTo.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from .findings import Manifest
from .route import GATEWAY_HTTP_PORT, GATEWAY_TLS_PORT, Route

NETWORKING = "networking.istio.io/v1"
SECURITY = "security.istio.io/v1"
MESH = "mesh"


class ObjectKey(NamedTuple):
    """What a route's object is, known before its contents: Pulumi child names end in ``key``."""

    key: str
    api_version: str
    kind: str


def object_keys(originates: bool, client_namespaces: Sequence[str], authorization_policy: bool) -> list[ObjectKey]:
    """The route's objects in ``route_manifests`` order, from only the fields that decide which
    exist, so a component can register its children before other inputs (Outputs) resolve."""
    keys = [ObjectKey("serviceentry", NETWORKING, "ServiceEntry"), ObjectKey("gateway", NETWORKING, "Gateway")]
    keys += [ObjectKey(f"gateway-destinationrule-{ns}", NETWORKING, "DestinationRule") for ns in client_namespaces]
    if originates:
        keys.append(ObjectKey("origination-destinationrule", NETWORKING, "DestinationRule"))
    keys.append(ObjectKey("virtualservice", NETWORKING, "VirtualService"))
    if authorization_policy:
        keys.append(ObjectKey("authorizationpolicy", SECURITY, "AuthorizationPolicy"))
    return keys


def keyed_manifests(route: Route) -> dict[str, Manifest]:
    """``route_manifests`` by their ``object_keys`` key."""
    keys = object_keys(route.originates, route.client_namespaces, route.authorization_policy)
    return {key.key: manifest for key, manifest in zip(keys, route_manifests(route), strict=True)}


def route_manifests(route: Route) -> list[Manifest]:
    """Every object the route needs, in apply order (ServiceEntry first, AuthorizationPolicy last)."""
    objects = [service_entry(route), gateway(route)]
    objects += [gateway_destination_rule(route, namespace) for namespace in route.client_namespaces]
    if route.originates:
        objects.append(origination_destination_rule(route))
    objects.append(virtual_service(route))
    if route.authorization_policy:
        objects.append(authorization_policy(route))
    return objects


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


def _clients(route: Route) -> list[str]:
    """exportTo for objects sidecars must see: the gateway's own namespace and the clients'."""
    return ["."] + [ns for ns in route.client_namespaces if ns != route.gateway_namespace]


def _app_port(route: Route) -> int:
    """The port apps connect to: the TLS port, or the plain HTTP port under origination."""
    return route.http_port if route.http_port is not None else route.port


def _gateway_port(route: Route) -> int:
    """The gateway listener: 443 when the app's TLS arrives there, 80 for mTLS-wrapped HTTP."""
    return GATEWAY_HTTP_PORT if route.http_port is not None else GATEWAY_TLS_PORT


def service_entry(route: Route) -> Manifest:
    if not route.originates:
        ports = [{"number": route.port, "name": f"tls-{route.port}", "protocol": "TLS"}]
    else:
        ports = [{"number": route.port, "name": f"https-{route.port}", "protocol": "HTTPS"}]
        if route.http_port is not None:
            ports.insert(0, {"number": route.http_port, "name": f"http-{route.http_port}", "protocol": "HTTP"})
    return _object(route, NETWORKING, "ServiceEntry", route.name(), {
        "hosts": [route.host],
        "location": "MESH_EXTERNAL",
        "ports": ports,
        "resolution": "DNS",
        "exportTo": _clients(route),
    })


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
    server["hosts"] = [route.host]
    return _object(route, NETWORKING, "Gateway", route.name(), {
        "selector": dict(route.gateway_selector),
        "servers": [server],
    })


def gateway_destination_rule(route: Route, namespace: str) -> Manifest:
    """Sidecars' view of the gateway: the route's subset, mTLS-wrapped when the gateway expects it."""
    # With origination the leg is mTLS, and its SNI picks the gateway server for the host. Otherwise
    # it carries the app's own TLS: DISABLE keeps auto-mTLS from wrapping it a second time.
    tls = {"mode": "ISTIO_MUTUAL", "sni": route.host} if route.http_port is not None else {"mode": "DISABLE"}
    subset = {"name": route.subset, "trafficPolicy": {"portLevelSettings": [{
        "port": {"number": _gateway_port(route)}, "tls": tls}]}}
    return _object(route, NETWORKING, "DestinationRule", route.name("gateway"), {
        "host": route.gateway_service,
        "subsets": [subset],
        "exportTo": ["."],
    }, namespace)


def origination_destination_rule(route: Route) -> Manifest:
    """The gateway's TLS to the host. Gateway-only: credentials are read from its namespace."""
    tls: dict[str, Any] = {"mode": route.mode.value, "sni": route.sni or route.host}
    credential = route.client_credential_name or route.ca_credential_name
    if credential:
        tls["credentialName"] = credential
    if route.subject_alt_names:
        tls["subjectAltNames"] = list(route.subject_alt_names)
    return _object(route, NETWORKING, "DestinationRule", route.name("origination"), {
        "host": route.host,
        "trafficPolicy": {"portLevelSettings": [{"port": {"number": route.port}, "tls": tls}]},
        "exportTo": ["."],
    })


def virtual_service(route: Route) -> Manifest:
    app_port, gw_port = _app_port(route), _gateway_port(route)
    to_gateway = {"destination": {"host": route.gateway_service, "subset": route.subset,
                                  "port": {"number": gw_port}}}
    to_host = {"destination": {"host": route.host, "port": {"number": route.port}}}
    spec: dict[str, Any] = {"hosts": [route.host], "gateways": [MESH, route.gateway_ref]}
    if route.http_port is None:
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
    """ALLOW only the route's clients, identified by the mTLS leg, to reach this host."""
    if route.client_service_accounts:
        source: dict[str, Any] = {"principals": [
            f"{route.trust_domain}/ns/{ns}/sa/{sa}"
            for ns, sa in (account.split("/", 1) for account in route.client_service_accounts)]}
    else:
        source = {"namespaces": list(route.client_namespaces)}
    return _object(route, SECURITY, "AuthorizationPolicy", route.name(), {
        "selector": {"matchLabels": dict(route.gateway_selector)},
        "action": "ALLOW",
        "rules": [{
            "from": [{"source": source}],
            # No `ports`: they would have to name the gateway pod's target port (8080, not 80).
            "to": [{"operation": {"hosts": [route.host]}}],
        }],
    })
