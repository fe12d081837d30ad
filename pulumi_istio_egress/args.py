"""The typed arguments of ``EgressRoute``.

Kept schema-friendly for Pulumi's multi-language components: a ``TypedDict`` with a docstring
under each field, a ``str`` Enum for modes, no unions besides ``pulumi.Input``.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi


class TlsMode(StrEnum):
    """How the egress gateway treats TLS to the external host."""

    PASSTHROUGH = "PASSTHROUGH"
    """The app speaks TLS end to end; the gateway routes on SNI and never sees plaintext."""
    SIMPLE = "SIMPLE"
    """The gateway originates TLS to the host (the app speaks plain HTTP), or terminates the app's
    TLS with `terminate_credential_name` and re-originates it. HTTP becomes visible at the gateway."""
    MUTUAL = "MUTUAL"
    """SIMPLE plus a client certificate from `client_credential_name`."""


class Dataplane(StrEnum):
    """Which Istio data plane carries the clients' traffic, and so what the egress point is."""

    SIDECAR = "SIDECAR"
    """Sidecar mode: sidecars route the host to the egress gateway (Gateway, VirtualService,
    DestinationRules)."""
    AMBIENT = "AMBIENT"
    """Ambient mode: ztunnel sends traffic for the ServiceEntry to its waypoint, which is the egress
    point (no Gateway, VirtualService or subset DestinationRules)."""


class RouteApi(StrEnum):
    """Which Istio configuration API a route is written in."""

    ISTIO = "ISTIO"
    """Istio's own networking API: Gateway, VirtualService, DestinationRule (a shared egress gateway)."""
    GATEWAY_API = "GATEWAY_API"
    """The Kubernetes Gateway API as Istio implements it: a `gateway.networking.k8s.io` Gateway that
    Istio deploys for this route alone, HTTPRoute/TLSRoute for both legs, plus the DestinationRules
    and ServiceEntry Istio's docs still use. For meshes that support only the Gateway API."""


class EgressRouteArgs(TypedDict):
    """Arguments of `EgressRoute`: one external host reached through the Istio egress gateway."""

    host: pulumi.Input[str]
    """The external host name, e.g. `api.stripe.com`: no scheme, path, port or wildcard."""

    tls_mode: TlsMode
    """PASSTHROUGH, SIMPLE or MUTUAL (the plain strings work too). A plain value: it decides which
    objects the route has."""

    client_namespaces: Sequence[str]
    """Namespaces whose workloads may use this route. The objects sidecars need are exported to
    exactly these namespaces; there is no mesh-wide default. A plain value: one DestinationRule
    is made in each."""

    port: NotRequired[pulumi.Input[int]]
    """The external host's TLS port. Default 443."""

    http_port: NotRequired[pulumi.Input[int]]
    """SIMPLE/MUTUAL origination only: the port on which apps send plain HTTP to the host (the
    sidecar forwards it to the gateway, which originates TLS). Default 80."""

    client_credential_name: NotRequired[pulumi.Input[str]]
    """MUTUAL only, required there: the Secret in the gateway namespace with `tls.crt`, `tls.key`
    and `ca.crt` that the gateway presents to the host."""

    terminate_credential_name: NotRequired[pulumi.Input[str]]
    """SIMPLE/MUTUAL: the Secret in the gateway namespace whose certificate the gateway presents to
    apps that speak HTTPS themselves. The gateway terminates their TLS and re-originates it, so apps
    must trust this certificate's CA (an inspection CA). Unset: apps speak plain HTTP."""

    ca_credential_name: NotRequired[pulumi.Input[str]]
    """SIMPLE only: a Secret in the gateway namespace with `ca.crt` to verify the host's certificate
    (for MUTUAL put `ca.crt` in the client credential). Unset: the gateway's system trust store."""

    subject_alt_names: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """SIMPLE/MUTUAL: names the host's certificate must carry. Default: none beyond the SNI check."""

    sni: NotRequired[pulumi.Input[str]]
    """SIMPLE/MUTUAL: the SNI the gateway sends to the host. Default: `host`."""

    gateway_namespace: NotRequired[pulumi.Input[str]]
    """Namespace of the egress gateway deployment; every object of the route lives there (the
    gateway reads credentials only from its own namespace). Default `istio-system`."""

    gateway_selector: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Pod labels of the egress gateway. Default `{istio: egressgateway}`."""

    gateway_service: NotRequired[pulumi.Input[str]]
    """FQDN of the egress gateway Service. Default
    `istio-egressgateway.<gateway_namespace>.svc.cluster.local`."""

    authorization_policy: NotRequired[bool]
    """SIMPLE/MUTUAL origination only: add an ALLOW AuthorizationPolicy on the egress gateway that
    lets only the client namespaces (or `client_service_accounts`) reach this host. Needs the
    sidecar-to-gateway leg to carry an mTLS identity, which PASSTHROUGH and termination lack.
    Note: once any ALLOW policy selects the gateway, traffic no ALLOW policy matches is denied.
    Under AMBIENT any mode: the policy targets only this route's ServiceEntry at the waypoint, which
    knows each client's identity from HBONE. A plain value. Default false."""

    client_service_accounts: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """With `authorization_policy`: `namespace/name` service accounts allowed to use the route
    (each namespace among `client_namespaces`). Default: every workload of the client namespaces."""

    api: NotRequired[RouteApi]
    """ISTIO (default) or GATEWAY_API, for the SIDECAR data plane (an AMBIENT route's waypoint is a
    Gateway API Gateway already). A plain value: it decides which objects the route has. Under
    GATEWAY_API `gateway_selector` and `gateway_service` do not apply (Istio deploys the route's own
    gateway), and whether `terminate_credential_name` is given must be known when the route is
    declared (its value may be an Output)."""

    trust_domain: NotRequired[pulumi.Input[str]]
    """With `client_service_accounts`: the mesh trust domain in SPIFFE principals. Default
    `cluster.local`."""

    dataplane: NotRequired[Dataplane]
    """SIDECAR (default) or AMBIENT (the plain strings work too). A plain value: it decides which
    objects the route has."""

    egress_namespace: NotRequired[pulumi.Input[str]]
    """AMBIENT only: the namespace of the waypoint and of every object of the route (the waypoint
    reads credentials only from its own namespace). Default `istio-egress`."""

    waypoint: NotRequired[str]
    """AMBIENT only: the name of an existing waypoint (a `gateway.networking.k8s.io` Gateway of class
    `istio-waypoint` serving `service` traffic) in `egress_namespace` to use, e.g. one shared by
    several routes. Unset: the route makes its own waypoint, `egress-<host>-waypoint`. A plain value:
    it decides whether the route makes a waypoint."""
