"""The pure core for ``api=GATEWAY_API``: a ``Route`` as Istio's Gateway API egress objects.

Follows Istio's egress tasks' "Gateway API" tabs (egress-gateway, egress-gateway-tls-origination),
which keep classic objects where the Gateway API has no word for them: the ServiceEntry for the
host, the DestinationRule that wraps the sidecar-to-gateway leg in ISTIO_MUTUAL, the one that
originates TLS, and a Role/RoleBinding so the deployed gateway may read a client credential.

Choices, and why:
- **One Gateway per route**, in ``gateway_namespace``. Istio deploys a Gateway API Gateway as its own
  Deployment, Service and ServiceAccount (``<gateway>-istio``: ``GetDefaultName`` in
  ``pilot/pkg/config/kube/gatewaycommon``), so a route's listeners, credentials and
  AuthorizationPolicy touch no other route: the shared-gateway failures (listener clashes, an ALLOW
  policy cutting off other hosts) cannot happen. The cost is one gateway Deployment per host.
- **Both legs are routes of the Gateway API**: the mesh leg has the ServiceEntry as parentRef
  (GAMMA; ``route_collections.go`` turns it into a mesh VirtualService for the entry's hosts) and
  sends to the gateway's Service; the gateway leg is bound to the route's listener (``sectionName``)
  and sends to ``kind: Hostname`` (``conversion.go`` resolves it as the ServiceEntry host).
- **No client-visible port bypasses the gateway** (issue 9). Under origination the clients' entry
  shows only the plain HTTP port, and a second entry for the same host, exported to the gateway's
  namespace alone, carries the TLS port the gateway originates on. Otherwise the sidecar builds a
  passthrough chain straight to the host for an unrouted TLS port (``tls.go``).
- **Names are verified**: the originating TLS always carries ``subjectAltNames``, since Istio's
  auto-SAN check is off once ``sni`` is set (``cluster_tls.go`` setAutoSniAndAutoSanValidation).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .args import TlsMode
from .findings import Manifest
from .manifests import (
    AUTHORIZATION,
    NETWORKING,
    ORIGINATION,
    SECURITY,
    SERVICE_ENTRY,
    ObjectKey,
    Shape,
    Table,
    _clients,
    _object,
    build_table,
    client_principals,
    origination_destination_rule,
)
from .names import object_name
from .route import GATEWAY_HTTP_PORT, GATEWAY_TLS_PORT, Route

GATEWAY_API = "gateway.networking.k8s.io/v1"
RBAC = "rbac.authorization.k8s.io/v1"
ISTIO_GROUP = "networking.istio.io"
GATEWAY_GROUP = "gateway.networking.k8s.io"
LISTENER = "egress"
# Istio names the Service and ServiceAccount it deploys for a Gateway `<name>-istio`
# (gatewayclass `istio`), so the Gateway's name leaves room for that suffix in a 63-character label.
DEPLOYED_SUFFIX = "-istio"
SERVICE_TYPE_ANNOTATION = "networking.istio.io/service-type"  # else Istio makes a LoadBalancer
TERMINATE_MODE_OPTION = "gateway.istio.io/tls-terminate-mode"


def gateway_api_table(shape: Shape) -> Table:
    """The objects of a GATEWAY_API route, in apply order."""
    table: Table = [(SERVICE_ENTRY, client_service_entry)]
    if not shape.app_tls:
        table.append((ObjectKey("upstream-serviceentry", NETWORKING, "ServiceEntry"), upstream_service_entry))
    table += [
        (ObjectKey("gateway", GATEWAY_API, "Gateway"), gateway),
        (ObjectKey("gateway-destinationrule", NETWORKING, "DestinationRule"), gateway_destination_rule),
    ]
    if shape.originates:
        table.append((ORIGINATION, verified_origination))
    if _reads_client_certificate(shape):
        table += [(ObjectKey("role", RBAC, "Role"), credential_role),
                  (ObjectKey("rolebinding", RBAC, "RoleBinding"), credential_role_binding)]
    table += [
        (ObjectKey("mesh-route", GATEWAY_API, "TLSRoute" if shape.app_tls else "HTTPRoute"), mesh_route),
        (ObjectKey("gateway-route", GATEWAY_API, "HTTPRoute" if shape.originates else "TLSRoute"), gateway_route),
    ]
    if shape.authorization_policy:
        table.append((AUTHORIZATION, authorization_policy))
    return table


def gateway_api_manifests(route: Route) -> dict[str, Manifest]:
    """Every object of the route by key, in apply order."""
    return build_table(gateway_api_table, route)


def gateway_name(route: Route) -> str:
    return object_name("egress", route.host, limit=63 - len(DEPLOYED_SUFFIX))


def deployed_name(route: Route) -> str:
    """The Service and ServiceAccount Istio deploys for the route's Gateway."""
    return gateway_name(route) + DEPLOYED_SUFFIX


def deployed_service(route: Route) -> str:
    return f"{deployed_name(route)}.{route.gateway_namespace}.svc.cluster.local"


def _listener_port(route: Route) -> int:
    # As the ISTIO flavour: 443 where the app's TLS arrives, 80 for the mTLS-wrapped HTTP.
    return GATEWAY_TLS_PORT if route.app_tls else GATEWAY_HTTP_PORT


def _reads_client_certificate(shape: Shape) -> bool:
    """MUTUAL (the one mode with a client credential): the gateway's own proxy fetches the client
    key pair through SDS, which istiod grants
    only if the proxy's ServiceAccount may list Secrets in its namespace (``sds.go``
    filterAuthorizedResources, ``CredentialsController.Authorize``). SIMPLE's ``ca_credential_name``
    needs no grant: a SIMPLE rule asks only for ``<name>-cacert``, which is public (CA-only)."""
    return shape.mode is TlsMode.MUTUAL


def _entry(route: Route, name: str, ports: list[dict[str, Any]], export_to: Sequence[str]) -> Manifest:
    return _object(route, NETWORKING, "ServiceEntry", name, {
        "hosts": [route.host],
        "location": "MESH_EXTERNAL",
        "ports": ports,
        "resolution": "DNS",
        "exportTo": list(export_to),
    })


def client_service_entry(route: Route) -> Manifest:
    """The host as clients see it: only ports the mesh route sends to the gateway."""
    if not route.app_tls:
        ports = [{"number": route.app_port, "name": f"http-{route.app_port}", "protocol": "HTTP"}]
        export_to = list(route.client_namespaces)  # not ".": the gateway's entry is the other one
    else:
        protocol = "HTTPS" if route.originates else "TLS"
        ports = [{"number": route.port, "name": f"{protocol.lower()}-{route.port}", "protocol": protocol}]
        export_to = _clients(route)
    return _entry(route, route.name(), ports, export_to)


def upstream_service_entry(route: Route) -> Manifest:
    """Origination: the host's TLS port, for the gateway's namespace only (clients never see it)."""
    ports = [{"number": route.port, "name": f"https-{route.port}", "protocol": "HTTPS"}]
    return _entry(route, route.name("upstream"), ports, ["."])


def gateway(route: Route) -> Manifest:
    port = _listener_port(route)
    listener: dict[str, Any] = {"name": LISTENER, "hostname": route.host, "port": port}
    if not route.originates:
        listener |= {"protocol": "TLS", "tls": {"mode": "Passthrough"}}
    elif route.terminates:
        listener |= {"protocol": "HTTPS", "tls": {
            "mode": "Terminate", "certificateRefs": [{"name": route.terminate_credential_name}]}}
    else:
        # Istio's option for a listener that accepts the sidecars' ISTIO_MUTUAL (istio.io docs,
        # egress-gateway-tls-origination, Gateway API tab).
        listener |= {"protocol": "HTTPS", "tls": {"mode": "Terminate", "options": {
            TERMINATE_MODE_OPTION: "ISTIO_MUTUAL"}}}
    listener["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    manifest = _object(route, GATEWAY_API, "Gateway", gateway_name(route), {
        "gatewayClassName": "istio",
        "listeners": [listener],
    })
    manifest["metadata"]["annotations"] = {SERVICE_TYPE_ANNOTATION: "ClusterIP"}
    return manifest


def gateway_destination_rule(route: Route) -> Manifest:
    """Sidecars' TLS to the route's own gateway Service, found in the Service's namespace."""
    # ISTIO_MUTUAL with the host as SNI under origination (the docs' rule); DISABLE when the leg carries
    # the app's TLS, so auto-mTLS never wraps it a second time.
    tls = {"mode": "DISABLE"} if route.app_tls else {"mode": "ISTIO_MUTUAL", "sni": route.host}
    return _object(route, NETWORKING, "DestinationRule", route.name("gateway"), {
        "host": deployed_service(route),
        "trafficPolicy": {"portLevelSettings": [{"port": {"number": _listener_port(route)}, "tls": tls}]},
        "exportTo": list(route.client_namespaces),
    })


def verified_origination(route: Route) -> Manifest:
    """The ISTIO flavour's originating DestinationRule, always verifying the host's name."""
    manifest = origination_destination_rule(route)
    for setting in manifest["spec"]["trafficPolicy"]["portLevelSettings"]:
        tls = setting["tls"]
        if not tls.get("subjectAltNames"):
            tls["subjectAltNames"] = [route.sni or route.host]
    return manifest


def credential_role(route: Route) -> Manifest:
    """Lets the ServiceAccount Istio deploys for the Gateway read the client credential (it has no
    Role of its own; istio.io docs, mutual TLS origination, Gateway API tab)."""
    manifest = _object(route, RBAC, "Role", route.name("credential"), {})
    del manifest["spec"]
    # No resourceNames: istiod's check is a SubjectAccessReview for `list secrets` in the namespace,
    # with no name, which a name-restricted rule never allows.
    manifest["rules"] = [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch", "list"]}]
    return manifest


def credential_role_binding(route: Route) -> Manifest:
    manifest = _object(route, RBAC, "RoleBinding", route.name("credential"), {})
    del manifest["spec"]
    manifest["roleRef"] = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": route.name("credential")}
    manifest["subjects"] = [{"kind": "ServiceAccount", "name": deployed_name(route),
                             "namespace": route.gateway_namespace}]
    return manifest


def mesh_route(route: Route) -> Manifest:
    """Sidecars: the host's client port to the route's gateway (parent: the clients' ServiceEntry)."""
    parent = {"group": ISTIO_GROUP, "kind": "ServiceEntry", "name": route.name(), "port": route.app_port}
    backend = {"name": deployed_name(route), "port": _listener_port(route)}
    spec: dict[str, Any] = {"parentRefs": [parent]}
    if route.app_tls:
        spec["hostnames"] = [route.host]  # routed by the app's SNI
    spec["rules"] = [{"backendRefs": [backend]}]
    kind = "TLSRoute" if route.app_tls else "HTTPRoute"
    return _object(route, GATEWAY_API, kind, route.name("mesh"), spec)


def gateway_route(route: Route) -> Manifest:
    """The gateway: its listener to the host, HTTP when it interprets TLS, else by SNI."""
    parent = {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway_name(route), "sectionName": LISTENER}
    backend = {"group": ISTIO_GROUP, "kind": "Hostname", "name": route.host, "port": route.port}
    kind = "HTTPRoute" if route.originates else "TLSRoute"
    return _object(route, GATEWAY_API, kind, route.name(), {
        "parentRefs": [parent],
        "hostnames": [route.host],
        "rules": [{"backendRefs": [backend]}],
    })


def authorization_policy(route: Route) -> Manifest:
    """ALLOW only the route's clients (their mTLS identity) on the route's own gateway.

    Attached to the Gateway (``targetRefs``), so it can deny nothing of another route; ``hosts``
    lists ``h`` and ``h:*`` as Istio's security best practice advises (Host may carry a port).
    """
    return allow_clients(route, {"group": GATEWAY_GROUP, "kind": "Gateway", "name": gateway_name(route)},
                         to=[{"operation": {"hosts": [route.host, f"{route.host}:*"]}}])


def allow_clients(route: Route, target: dict[str, str], to: list[dict[str, Any]] | None = None) -> Manifest:
    """An ALLOW AuthorizationPolicy attached with ``targetRefs`` to ``target``: the route's clients
    by mTLS identity (their principals, else their namespaces), ``to`` when given. Shared with the
    ambient waypoint's policy, which attaches the same way."""
    if route.client_service_accounts:
        source: dict[str, Any] = {"principals": client_principals(route)}
    else:
        source = {"namespaces": list(route.client_namespaces)}
    rule: dict[str, Any] = {"from": [{"source": source}]}
    if to is not None:
        rule["to"] = to
    return _object(route, SECURITY, "AuthorizationPolicy", route.name(), {
        "targetRefs": [target],
        "action": "ALLOW",
        "rules": [rule],
    })
