"""The one model of an egress route: checked arguments, defaults applied, names derived.

``parse_route`` turns the plain values of ``EgressRouteArgs`` into a ``Route`` or raises
``EgressRouteError`` naming the field, the value and the fix. Nothing here touches Pulumi.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from .args import Dataplane, EgressRouteArgs, RouteApi, TlsMode
from .fields import (
    EgressRouteError,
    account_problem,
    namespace_problem,
    parse_enum,
    parse_host,
    parse_names,
    parse_namespace,
    parse_optional_host,
    parse_port,
    parse_secret,
    parse_selector,
    san_problem,
    service_problem,
    yaml_value,
)
from .names import dns1123_label_problem, host_problem, object_name

__all__ = ["EgressRouteError", "Route", "parse_route", "yaml_value"]  # the error and yaml_value live in fields

DEFAULT_PORT = 443
DEFAULT_HTTP_PORT = 80
DEFAULT_GATEWAY_NAMESPACE = "istio-system"
DEFAULT_GATEWAY_SELECTOR: Mapping[str, str] = {"istio": "egressgateway"}
DEFAULT_TRUST_DOMAIN = "cluster.local"
DEFAULT_EGRESS_NAMESPACE = "istio-egress"
# The fields that name the sidecar-mode egress gateway, and those that only ambient routes use.
SIDECAR_ONLY_FIELDS = ("gateway_namespace", "gateway_selector", "gateway_service")
AMBIENT_ONLY_FIELDS = ("egress_namespace", "waypoint")
# The listener ports of the default egress gateway Service (istio-egressgateway: 80 and 443).
GATEWAY_HTTP_PORT = 80
GATEWAY_TLS_PORT = 443
NAME_PREFIX = "egress"

FIELDS: tuple[str, ...] = tuple(EgressRouteArgs.__annotations__)




@dataclass(frozen=True)
class Route:
    """A validated egress route with every default filled in."""

    host: str
    mode: TlsMode
    port: int
    client_namespaces: tuple[str, ...]
    http_port: int | None
    client_credential_name: str | None
    terminate_credential_name: str | None
    ca_credential_name: str | None
    subject_alt_names: tuple[str, ...]
    sni: str | None
    gateway_namespace: str
    gateway_selector: tuple[tuple[str, str], ...]
    gateway_service: str
    authorization_policy: bool
    client_service_accounts: tuple[str, ...]
    trust_domain: str
    dataplane: Dataplane = Dataplane.SIDECAR
    waypoint: str | None = None
    """AMBIENT: the name of the waypoint the ServiceEntry uses (in ``gateway_namespace``)."""
    creates_waypoint: bool = False
    """AMBIENT: the route makes that waypoint itself."""
    api: RouteApi = RouteApi.ISTIO

    @property
    def originates(self) -> bool:
        """The gateway opens its own TLS connection to the host (SIMPLE and MUTUAL)."""
        return self.mode is not TlsMode.PASSTHROUGH

    @property
    def terminates(self) -> bool:
        """The gateway terminates the app's TLS with its own certificate."""
        return self.terminate_credential_name is not None

    @property
    def app_tls(self) -> bool:
        """Apps speak TLS to the host's port (PASSTHROUGH, or the gateway terminates their TLS), so
        sidecars route them by SNI; else they speak plain HTTP to ``http_port`` (origination)."""
        return self.http_port is None

    @property
    def app_port(self) -> int:
        """The port apps connect to: the TLS port, or the plain HTTP port under origination."""
        return self.port if self.http_port is None else self.http_port

    def name(self, suffix: str = "") -> str:
        """The Kubernetes name of one of the route's objects; stable across releases."""
        return object_name(NAME_PREFIX, self.host, suffix)

    @property
    def ambient(self) -> bool:
        """The ambient data plane: the waypoint in ``gateway_namespace`` is the egress point."""
        return self.dataplane is Dataplane.AMBIENT

    @property
    def subset(self) -> str:
        """The egress-gateway DestinationRule subset that carries this route."""
        return self.name()

    @property
    def gateway_ref(self) -> str:
        """How a VirtualService names the route's Gateway."""
        return f"{self.gateway_namespace}/{self.name()}"


def parse_route(args: Mapping[str, Any]) -> Route:
    """Check plain ``EgressRouteArgs`` values and fill in defaults."""
    require_mapping(args)
    for key in ("host", "tls_mode", "client_namespaces"):
        if args.get(key) is None:
            raise EgressRouteError(key, None, "it is required", _REQUIRED_FIX[key], config_fix=_REQUIRED_YAML[key])

    _refuse_dynamic_dns(args)
    host = parse_host(args["host"])
    mode, namespaces, authz = parse_structure(args)
    dataplane, existing_waypoint = parse_dataplane(args)
    ambient = dataplane is Dataplane.AMBIENT
    port = parse_port("port", args.get("port"), DEFAULT_PORT)
    client_cred = parse_secret("client_credential_name", args.get("client_credential_name"))
    terminate_cred = parse_secret("terminate_credential_name", args.get("terminate_credential_name"))
    ca_cred = parse_secret("ca_credential_name", args.get("ca_credential_name"))
    sans = parse_names("subject_alt_names", args.get("subject_alt_names", ()), san_problem, "e.g. ['api.stripe.com']")
    sni = parse_optional_host("sni", args.get("sni"))
    # Under AMBIENT the route's objects live in egress_namespace: Route.gateway_namespace holds it.
    gw_ns = (parse_namespace("egress_namespace", args.get("egress_namespace", DEFAULT_EGRESS_NAMESPACE)) if ambient
             else parse_namespace("gateway_namespace", args.get("gateway_namespace", DEFAULT_GATEWAY_NAMESPACE)))
    selector = parse_selector(args.get("gateway_selector", DEFAULT_GATEWAY_SELECTOR))
    gw_service = args.get("gateway_service", f"istio-egressgateway.{gw_ns}.svc.cluster.local")
    problem = host_problem(gw_service, allow_wildcard=False) if isinstance(gw_service, str) else "it is not a string"
    if problem is None:
        problem = service_problem(gw_service.rstrip("."), gw_ns)
    if problem:
        raise EgressRouteError(
            "gateway_service", gw_service, problem,
            f"give the egress gateway Service's FQDN, e.g. 'istio-egressgateway.{gw_ns}.svc.cluster.local'",
        )
    if gw_ns in namespaces and not ambient:  # sidecar mode: the gateway's ServiceEntry is visible there
        raise EgressRouteError(
            "client_namespaces", list(namespaces),
            f"it includes the gateway namespace {gw_ns!r}, where the gateway's own ServiceEntry shows the "
            "host's TLS port to every workload, so they could leave the mesh without the gateway",
            f"run the clients outside {gw_ns!r}, or use a separate egress gateway namespace",
        )
    accounts = parse_names("client_service_accounts", args.get("client_service_accounts", ()),
                      account_problem, "e.g. ['payments/checkout']")
    trust_domain = args.get("trust_domain", DEFAULT_TRUST_DOMAIN)
    problem = host_problem(trust_domain, allow_wildcard=False) if isinstance(trust_domain, str) else "not a string"
    if problem:
        fix = "give the mesh trust domain, e.g. 'cluster.local'"
        raise EgressRouteError("trust_domain", trust_domain, problem, fix)

    route = Route(
        host=host, mode=mode, port=port, client_namespaces=namespaces,
        http_port=None, client_credential_name=client_cred, terminate_credential_name=terminate_cred,
        ca_credential_name=ca_cred, subject_alt_names=sans, sni=sni, gateway_namespace=gw_ns,
        gateway_selector=selector, gateway_service=gw_service.rstrip("."), authorization_policy=authz,
        client_service_accounts=accounts, trust_domain=trust_domain,
        dataplane=dataplane, api=parse_api(args),
        waypoint=(existing_waypoint or object_name(NAME_PREFIX, host, "waypoint")) if ambient else None,
        creates_waypoint=ambient and existing_waypoint is None,
    )
    return _check_api(_check_mode(route, args), args)


def _refuse_dynamic_dns(args: Mapping[str, Any]) -> None:
    """A wildcard host under AMBIENT would need a ServiceEntry with ``resolution: DYNAMIC_DNS``
    through the waypoint (Istio 1.28+ for HTTP; 1.29+ for TLS behind istiod's
    ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS). The component does not make one: its origination
    pins the host's name (``subjectAltNames``), which no single name can do for a wildcard, and a
    wildcard's TLS port is routed by SNI alone, which a client can spoof (the flag's own warning).
    Said here, before the generic wildcard error, so the ambient user learns why."""
    host, dataplane = args.get("host"), args.get("dataplane")
    if isinstance(host, str) and host.startswith("*") and str(getattr(dataplane, "value", dataplane)) == "AMBIENT":
        raise EgressRouteError(
            "host", host,
            "it is a wildcard: ambient egress to a wildcard needs a ServiceEntry with resolution DYNAMIC_DNS "
            "(Istio 1.28+ for HTTP, 1.29+ for TLS behind ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS), which "
            "EgressRoute does not make: origination verifies one host name, and a wildcard's TLS is routed by SNI "
            "alone, which a client can spoof",
            "name each concrete host in its own EgressRoute (they can share one waypoint)",
        )


def require_mapping(args: Any) -> None:
    """Args come as a mapping (an EgressRouteArgs TypedDict) of known fields; say so plainly otherwise.

    Unknown keys are reported before anything else: a typo of a required field (``tls_mod``,
    ``tlsMode``) would otherwise read as "tls_mode is required"."""
    if not isinstance(args, Mapping):
        raise EgressRouteError("args", args, "it is not a mapping", "pass EgressRouteArgs(host=..., ...)",
                               config_fix="write the route as a map of fields, e.g. {host: api.stripe.com}")
    for key in args:
        if key not in FIELDS:
            raise EgressRouteError(str(key), args[key], "it is not a field of EgressRouteArgs", _field_hint(key))


def _field_hint(key: Any) -> str:
    text = str(key)
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower().replace("-", "_")
    if snake in FIELDS:
        # camelCase is the spelling of the multi-language schema; Python and stack config use snake_case.
        return f"did you mean {snake!r}? (fields are snake_case here; camelCase is for the other SDKs)"
    close = difflib.get_close_matches(snake, FIELDS, n=1)
    return f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(FIELDS)}"


def parse_structure(args: Mapping[str, Any]) -> tuple[TlsMode, tuple[str, ...], bool]:
    """Check just the fields that decide which objects a route has: mode, client namespaces and
    whether it has an AuthorizationPolicy. These must be known before anything is registered."""
    require_mapping(args)
    for key in ("tls_mode", "client_namespaces"):
        if args.get(key) is None:
            raise EgressRouteError(key, None, "it is required", _REQUIRED_FIX[key], config_fix=_REQUIRED_YAML[key])
    mode = parse_enum(TlsMode, "tls_mode", args["tls_mode"], "mode", "modes are upper case")
    namespaces = parse_names("client_namespaces", args["client_namespaces"], namespace_problem, "e.g. ['payments']")
    if not namespaces:
        raise EgressRouteError(
            "client_namespaces", args["client_namespaces"], "it is empty",
            "name the namespaces whose workloads may use this route, e.g. ['payments']",
        )
    authz = args.get("authorization_policy", False)
    if not isinstance(authz, bool):
        raise EgressRouteError("authorization_policy", authz, "it is not a boolean", "pass True or False",
                               config_fix="write true or false")
    return mode, namespaces, authz


def parse_dataplane(args: Mapping[str, Any]) -> tuple[Dataplane, str | None]:
    """The data plane, and the existing waypoint the route should use (None: under AMBIENT the
    route makes its own). Both decide which objects exist, so they must be known before anything
    is registered. The fields of the other data plane are refused here, and so is termination,
    which ambient cannot do."""
    require_mapping(args)
    # None is "unset", as for the other optional fields (config files and other languages send it).
    value = Dataplane.SIDECAR if args.get("dataplane") is None else args["dataplane"]
    dataplane = parse_enum(Dataplane, "dataplane", value, "data plane", "data planes are upper case")
    other = AMBIENT_ONLY_FIELDS if dataplane is Dataplane.SIDECAR else SIDECAR_ONLY_FIELDS
    for key in other:
        if args.get(key) is not None:
            fix = (f"remove {key}, or set dataplane AMBIENT to egress through a waypoint"
                   if dataplane is Dataplane.SIDECAR else
                   f"remove {key}; under AMBIENT the waypoint in egress_namespace is the egress point")
            raise EgressRouteError(key, args[key], f"it only applies to the {_other(dataplane)} data plane", fix)
    if dataplane is Dataplane.SIDECAR:
        return dataplane, None
    if args.get("terminate_credential_name") is not None:
        # A waypoint's only listener is HBONE (15008): the app's TLS reaches it as opaque bytes on a
        # TCP chain (listener_waypoint.go, buildWaypointInternal); there is no server-side TLS with a
        # credentialName for ServiceEntry traffic, so Istio cannot terminate it there.
        raise EgressRouteError(
            "terminate_credential_name", args["terminate_credential_name"],
            "an ambient waypoint cannot terminate the app's TLS (its only listener is HBONE)",
            "let apps speak plain HTTP (SIMPLE origination), use PASSTHROUGH, or use dataplane SIDECAR",
        )
    waypoint = args.get("waypoint")
    if waypoint is None:
        return dataplane, None
    problem = dns1123_label_problem(waypoint) if isinstance(waypoint, str) else "it is not a string"
    if problem is None and waypoint == "none":
        # GetUseWaypoint (pilot/pkg/serviceregistry/ambient/waypoints.go): "none" opts out of waypoints.
        problem = "Istio reads istio.io/use-waypoint 'none' as 'use no waypoint'"
    if problem:
        raise EgressRouteError("waypoint", waypoint, problem,
                               "name the waypoint Gateway in egress_namespace, e.g. 'waypoint'")
    return dataplane, waypoint


def _other(dataplane: Dataplane) -> str:
    return (Dataplane.AMBIENT if dataplane is Dataplane.SIDECAR else Dataplane.SIDECAR).value






def parse_api(args: Mapping[str, Any]) -> RouteApi:
    """The route's API flavour (structural: it decides which objects exist)."""
    # None is "unset", as for the other optional fields (config files and other languages send it).
    value = RouteApi.ISTIO if args.get("api") is None else args["api"]
    return parse_enum(RouteApi, "api", value, "API", "upper case")


def _check_api(route: Route, args: Mapping[str, Any]) -> Route:
    """GATEWAY_API: Istio deploys one gateway per route, so the shared gateway's fields do not apply."""
    if route.api is not RouteApi.GATEWAY_API:
        return route
    if route.dataplane is Dataplane.AMBIENT:
        raise EgressRouteError(
            "api", route.api.value, "it chooses how sidecars reach an egress gateway; under AMBIENT the route's "
            "waypoint (already a Gateway API Gateway) is the egress point",
            "remove api, or use dataplane SIDECAR",
        )
    for key in ("gateway_selector", "gateway_service"):
        if args.get(key) is not None:
            raise EgressRouteError(
                key, args[key], "under api GATEWAY_API Istio deploys this route's own gateway from its Gateway",
                f"remove {key} (the gateway runs in gateway_namespace), or use api ISTIO for a shared gateway",
            )
    return route


class _Need(NamedTuple):
    """One cross-field rule: under ``when`` (a mode, or TERMINATING), ``field`` is REQUIRED or REFUSED."""

    when: TlsMode | str
    field: str
    need: str
    problem: str
    fix: str
    sidecar_only: bool = False
    """The rule holds for the sidecar data plane only."""
    unset: tuple[Any, ...] = (None,)
    """The values that count as not given."""


REQUIRED, REFUSED = "required", "refused"
TERMINATING = "terminating"
"""A SIMPLE or MUTUAL route whose gateway terminates the app's TLS (terminate_credential_name)."""
_PASSTHROUGH_UNUSED = ("client_credential_name", "terminate_credential_name", "ca_credential_name",
                       "subject_alt_names", "sni", "http_port")
_EMPTY: tuple[Any, ...] = (None, (), [])
_FALSE: tuple[Any, ...] = (None, False)  # authorization_policy is a checked bool by now

MODE_RULES: tuple[_Need, ...] = (
    *(_Need(TlsMode.PASSTHROUGH, key, REFUSED, "PASSTHROUGH never touches the app's TLS, so it has no use for it",
            f"remove {key}, or use tls_mode SIMPLE/MUTUAL to let the gateway handle TLS", unset=_EMPTY)
      for key in _PASSTHROUGH_UNUSED),
    # Under AMBIENT ztunnel carries the client's identity to the waypoint over HBONE, and the
    # waypoint enforces source rules on TCP chains too (buildWaypointNetworkFilters).
    _Need(TlsMode.PASSTHROUGH, "authorization_policy", REFUSED,
          "under PASSTHROUGH the sidecar-to-gateway leg carries the app's own TLS, not an mTLS identity",
          "use tls_mode SIMPLE (origination) to restrict clients, or rely on exportTo scoping",
          sidecar_only=True, unset=_FALSE),
    _Need(TlsMode.MUTUAL, "client_credential_name", REQUIRED, "MUTUAL needs a client certificate",
          "name a Secret in the gateway namespace with tls.crt, tls.key and ca.crt"),
    _Need(TlsMode.SIMPLE, "client_credential_name", REFUSED, "SIMPLE presents no client certificate",
          "use tls_mode MUTUAL to send it, or remove client_credential_name"),
    _Need(TlsMode.MUTUAL, "ca_credential_name", REFUSED,
          "MUTUAL reads the CA from the client credential Secret (one credentialName per TLS setting)",
          "put ca.crt into the client_credential_name Secret and remove ca_credential_name"),
    _Need(TERMINATING, "http_port", REFUSED, "with terminate_credential_name apps speak HTTPS on `port`",
          "remove http_port, or remove terminate_credential_name to let apps speak plain HTTP"),
    _Need(TERMINATING, "authorization_policy", REFUSED,
          "when the gateway terminates the app's TLS ({mode}) the leg carries no mTLS identity",
          "drop terminate_credential_name (origination) to restrict clients, or rely on exportTo", unset=_FALSE),
)
"""Which fields each mode needs or refuses, in the order they are checked."""


def _check_mode(route: Route, args: Mapping[str, Any]) -> Route:
    """Cross-field rules: ``MODE_RULES``, then the HTTP port under origination and the accounts."""
    for rule in MODE_RULES:
        applies = route.terminates if rule.when == TERMINATING else route.mode is rule.when
        given = args.get(rule.field) not in rule.unset
        if not applies or (rule.sidecar_only and route.ambient) or given == (rule.need == REQUIRED):
            continue
        value = args[rule.field] if rule.need == REFUSED else None
        raise EgressRouteError(rule.field, value, rule.problem.format(mode=route.mode.value), rule.fix)
    if route.originates and not route.terminates:
        http_port = parse_port("http_port", args.get("http_port"), DEFAULT_HTTP_PORT)
        if http_port == route.port:
            raise EgressRouteError(
                "http_port", http_port, f"it equals port ({route.port}); apps' HTTP and the host's TLS need "
                "different ports", f"use distinct ports, e.g. http_port {DEFAULT_HTTP_PORT} and port {DEFAULT_PORT}",
            )
        route = dataclasses.replace(route, http_port=http_port)
    if route.client_service_accounts:
        if not route.authorization_policy:
            raise EgressRouteError(
                "client_service_accounts", list(route.client_service_accounts),
                "it only takes effect through the AuthorizationPolicy", "also set authorization_policy=True",
                config_fix="also set authorization_policy: true",
            )
        for account in route.client_service_accounts:
            namespace = account.split("/", 1)[0]
            if namespace not in route.client_namespaces:
                raise EgressRouteError(
                    "client_service_accounts", account, f"its namespace {namespace!r} is not a client namespace",
                    f"add {namespace!r} to client_namespaces, or remove this account",
                )
    return route


_REQUIRED_FIX = {
    "host": "pass the external host name, e.g. host='api.stripe.com'",
    "tls_mode": "pass tls_mode=TlsMode.SIMPLE, TlsMode.PASSTHROUGH or TlsMode.MUTUAL",
    "client_namespaces": "name the namespaces whose workloads may use this route, e.g. ['payments']",
}
_REQUIRED_YAML = {
    "host": "add the external host name, e.g. host: api.stripe.com",
    "tls_mode": "add tls_mode: SIMPLE, PASSTHROUGH or MUTUAL",
    "client_namespaces": "name the namespaces whose workloads may use this route, e.g. client_namespaces: [payments]",
}
