"""The pure core for ``dataplane=AMBIENT``: a validated ``Route`` becomes its ambient objects.

In ambient mode ztunnel sends traffic addressed to a service to that service's waypoint, so the
waypoint is the egress point and no routing objects are needed (istio.io, "Egress gateways" in the
ambient docs). A route is at most four objects, all in the egress namespace (``Route.gateway_namespace``):

- the waypoint, a ``gateway.networking.k8s.io/v1`` Gateway of class ``istio-waypoint`` labelled
  ``istio.io/waypoint-for: service`` (unless the route names an existing one);
- a ServiceEntry labelled ``istio.io/use-waypoint: <waypoint>``. The waypoint is looked up in the
  ServiceEntry's own namespace (``GetUseWaypoint`` in pilot/pkg/serviceregistry/ambient/waypoints.go),
  and its HBONE listener admits only services of its own namespace unless ``allowedRoutes`` says
  otherwise (``makeAllowedRoutes``), hence one namespace for both;
- under origination the DestinationRule that makes the waypoint originate TLS, next to the
  waypoint, which reads ``credentialName`` Secrets from its own namespace;
- with ``authorization_policy`` an AuthorizationPolicy with ``targetRefs`` to the ServiceEntry:
  waypoints ignore ``selector`` policies and take service-attached ones only from the service's
  namespace (``WorkloadPolicyMatcher.ShouldAttachPolicy`` in pilot/pkg/model/policyattachment.go).

Several routes can share one waypoint: one route makes it (or ``istioctl waypoint apply``) and the
others name it in ``waypoint``. A policy attached to one ServiceEntry governs only that service's
traffic at the waypoint, so routes with and without policies combine safely on it.
"""

from __future__ import annotations

from typing import Any

from .findings import Manifest
from .manifests import (
    AUTHORIZATION,
    NETWORKING,
    ORIGINATION,
    SERVICE_ENTRY,
    ObjectKey,
    Shape,
    Table,
    _clients,
    _object,
    build_table,
)
from .manifests_gateway_api import GATEWAY_API, ISTIO_GROUP, allow_clients
from .route import Route

WAYPOINT_CLASS = "istio-waypoint"
# Labels istiod reads (istio.io/api label package): which traffic a waypoint serves, which
# waypoint a service uses.
WAYPOINT_FOR = "istio.io/waypoint-for"
USE_WAYPOINT = "istio.io/use-waypoint"
USE_WAYPOINT_NAMESPACE = "istio.io/use-waypoint-namespace"
# The port and protocol of a waypoint's mesh listener, as `istioctl waypoint generate` writes it.
HBONE_PORT = 15008


def ambient_table(shape: Shape) -> Table:
    """Every object of an ambient route, in apply order (the waypoint first, the policy last)."""
    table: Table = [(ObjectKey("waypoint", GATEWAY_API, "Gateway"), waypoint)] if shape.creates_waypoint else []
    table.append((SERVICE_ENTRY, service_entry))
    if shape.originates:
        table.append((ORIGINATION, origination_destination_rule))
    if shape.authorization_policy:
        table.append((AUTHORIZATION, authorization_policy))
    return table


def ambient_keyed_manifests(route: Route) -> dict[str, Manifest]:
    """Every object of an ambient route by key, in apply order."""
    return build_table(ambient_table, route)


def _waypoint_name(route: Route) -> str:
    if route.waypoint is None:
        raise ValueError(f"route for {route.host} is not an ambient route")
    return route.waypoint


def waypoint(route: Route) -> Manifest:
    """A waypoint for service traffic, as `istioctl waypoint generate --for service` writes it."""
    manifest = _object(route, GATEWAY_API, "Gateway", _waypoint_name(route), {
        "gatewayClassName": WAYPOINT_CLASS,
        "listeners": [{"name": "mesh", "port": HBONE_PORT, "protocol": "HBONE"}],
    })
    # Service traffic is also istiod's default, but the docs require the label and it says what
    # the waypoint is for (gatewayToWaypointTransform reads it).
    manifest["metadata"]["labels"][WAYPOINT_FOR] = "service"
    return manifest


def service_entry(route: Route) -> Manifest:
    """The external host, bound to the waypoint. Under origination apps send plain HTTP to
    ``http_port`` and ``targetPort`` sends it on to the host's TLS port; the ServiceEntry shows no
    TLS port, so nothing reaches the host except through origination."""
    if route.app_tls:
        ports = [{"number": route.port, "name": f"tls-{route.port}", "protocol": "TLS"}]
    else:
        ports = [{"number": route.app_port, "name": f"http-{route.app_port}", "protocol": "HTTP",
                  "targetPort": route.port}]
    manifest = _object(route, NETWORKING, "ServiceEntry", route.name(), {
        "hosts": [route.host],
        "location": "MESH_EXTERNAL",
        "ports": ports,
        "resolution": "DNS",
        # ztunnel ignores exportTo; it still scopes sidecars and the waypoint's own configuration.
        "exportTo": _clients(route),
    })
    manifest["metadata"]["labels"][USE_WAYPOINT] = _waypoint_name(route)
    return manifest


def origination_destination_rule(route: Route) -> Manifest:
    """The waypoint's TLS to the host, with the host's name verified.

    Top-level ``tls``: the waypoint's cluster for the ServiceEntry is keyed by the service port
    (``http_port``), not by ``targetPort``, so a port-level setting for the TLS port would never
    apply. ``subjectAltNames`` is always set: with an explicit ``sni`` Istio turns automatic SAN
    validation off (``setAutoSniAndAutoSanValidation`` in pilot/pkg/networking/core/cluster_tls.go),
    and any certificate from a trusted CA would be accepted for any name.
    """
    sni = route.sni or route.host
    tls: dict[str, Any] = {"mode": route.mode.value, "sni": sni,
                           "subjectAltNames": list(route.subject_alt_names or (sni,))}
    credential = route.client_credential_name or route.ca_credential_name
    if credential:
        tls["credentialName"] = credential
    return _object(route, NETWORKING, "DestinationRule", route.name("origination"), {
        "host": route.host,
        "trafficPolicy": {"tls": tls},
        "exportTo": ["."],
    })


def authorization_policy(route: Route) -> Manifest:
    """ALLOW only the route's clients to use this ServiceEntry at the waypoint.

    ztunnel carries each client's identity to the waypoint over HBONE, so source namespaces and
    principals are known for HTTP and TLS alike; the rule has no HTTP-only fields, so it holds on
    the waypoint's TCP chains too.
    """
    return allow_clients(route, {"group": ISTIO_GROUP, "kind": "ServiceEntry", "name": route.name()})
