"""The one model of an egress route: checked arguments, defaults applied, names derived.

``parse_route`` turns the plain values of ``EgressRouteArgs`` into a ``Route`` or raises
``EgressRouteError`` naming the field, the value and the fix. Nothing here touches Pulumi.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from .args import Dataplane, EgressRouteArgs, RouteApi, TlsMode
from .names import (
    dns1123_label_problem,
    dns1123_subdomain_problem,
    host_problem,
    label_key_problem,
    label_value_problem,
    object_name,
)

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


class EgressRouteError(ValueError):
    """Bad ``EgressRoute`` input: the message names the field, the value and the fix."""

    component: ClassVar[str] = "EgressRoute"
    """The component named in front of the message; subclasses for other components set their own."""

    def __init__(self, field: str, value: Any, problem: str, fix: str, route: str | None = None,
                 config_fix: str | None = None) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        self.route = route
        self.config_fix = config_fix
        """The fix in stack-config (YAML) terms, where it differs from the Python one."""
        where = f"{self.component} {route!r}: " if route else ""
        super().__init__(f"{where}{field}={_show(value)} is invalid: {problem}. Fix: {fix}")

    def for_route(self, route: str) -> EgressRouteError:
        """The same error (same class), naming the resource it came from."""
        return type(self)(self.field, self.value, self.problem, self.fix, route, self.config_fix)

    def in_config(self, where: str) -> str:
        """The error as a stack-config user reads it: ``<where>: tls_mode: simple is invalid: ...``,
        the value written as YAML and the fix in YAML terms (no ``TlsMode.SIMPLE``)."""
        fix = self.config_fix or self.fix
        if self.value is None and self.problem == "it is required":
            return f"{where}: {self.field} is missing; it is required. Fix: {fix}"
        return f"{where}: {self.field}: {yaml_value(self.value)} is invalid: {self.problem}. Fix: {fix}"


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

    host = _host(args["host"])
    mode, namespaces, authz = parse_structure(args)
    dataplane, existing_waypoint = parse_dataplane(args)
    ambient = dataplane is Dataplane.AMBIENT
    port = _port("port", args.get("port"), DEFAULT_PORT)
    client_cred = _secret("client_credential_name", args.get("client_credential_name"))
    terminate_cred = _secret("terminate_credential_name", args.get("terminate_credential_name"))
    ca_cred = _secret("ca_credential_name", args.get("ca_credential_name"))
    sans = _names("subject_alt_names", args.get("subject_alt_names", ()), _san_problem, "e.g. ['api.stripe.com']")
    sni = _optional_host("sni", args.get("sni"))
    # Under AMBIENT the route's objects live in egress_namespace: Route.gateway_namespace holds it.
    gw_ns = (_label("egress_namespace", args.get("egress_namespace", DEFAULT_EGRESS_NAMESPACE)) if ambient
             else _label("gateway_namespace", args.get("gateway_namespace", DEFAULT_GATEWAY_NAMESPACE)))
    selector = _selector(args.get("gateway_selector", DEFAULT_GATEWAY_SELECTOR))
    gw_service = args.get("gateway_service", f"istio-egressgateway.{gw_ns}.svc.cluster.local")
    problem = host_problem(gw_service, allow_wildcard=False) if isinstance(gw_service, str) else "it is not a string"
    if problem is None:
        problem = _service_problem(gw_service.rstrip("."), gw_ns)
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
    accounts = _names("client_service_accounts", args.get("client_service_accounts", ()),
                      _account_problem, "e.g. ['payments/checkout']")
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
    mode = _mode(args["tls_mode"])
    namespaces = _names("client_namespaces", args["client_namespaces"], _namespace_problem, "e.g. ['payments']")
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
    dataplane = _dataplane(Dataplane.SIDECAR if args.get("dataplane") is None else args["dataplane"])
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


def _dataplane(value: Any) -> Dataplane:
    try:
        return Dataplane(value)
    except ValueError:
        upper = value.upper() if isinstance(value, str) else None
        hint = f" (data planes are upper case: {upper!r})" if upper in Dataplane.__members__ else ""
        raise EgressRouteError(
            "dataplane", value, "it is not a known data plane" + hint,
            "use one of " + ", ".join(repr(d.value) for d in Dataplane),
        ) from None




def parse_api(args: Mapping[str, Any]) -> RouteApi:
    """The route's API flavour (structural: it decides which objects exist)."""
    # None is "unset", as for the other optional fields (config files and other languages send it).
    value = RouteApi.ISTIO if args.get("api") is None else args["api"]
    try:
        return RouteApi(value)
    except ValueError:
        upper = value.upper() if isinstance(value, str) else None
        hint = f" (upper case: {upper!r})" if upper in RouteApi.__members__ else ""
        raise EgressRouteError(
            "api", value, "it is not a known API" + hint, "use one of " + ", ".join(repr(a.value) for a in RouteApi),
        ) from None


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


def _check_mode(route: Route, args: Mapping[str, Any]) -> Route:
    """Cross-field rules: which fields each mode needs, and which it cannot use."""
    mode = route.mode.value
    if route.mode is TlsMode.PASSTHROUGH:
        for key in ("client_credential_name", "terminate_credential_name", "ca_credential_name",
                    "subject_alt_names", "sni", "http_port"):
            if args.get(key) not in (None, (), []):
                raise EgressRouteError(
                    key, args[key], "PASSTHROUGH never touches the app's TLS, so it has no use for it",
                    f"remove {key}, or use tls_mode SIMPLE/MUTUAL to let the gateway handle TLS",
                )
        if route.authorization_policy and not route.ambient:
            # Under AMBIENT ztunnel carries the client's identity to the waypoint over HBONE, and
            # the waypoint enforces source rules on TCP chains too (buildWaypointNetworkFilters).
            raise EgressRouteError(
                "authorization_policy", True,
                "under PASSTHROUGH the sidecar-to-gateway leg carries the app's own TLS, not an mTLS identity",
                "use tls_mode SIMPLE (origination) to restrict clients, or rely on exportTo scoping",
            )
    if route.mode is TlsMode.MUTUAL and route.client_credential_name is None:
        raise EgressRouteError(
            "client_credential_name", None, "MUTUAL needs a client certificate",
            "name a Secret in the gateway namespace with tls.crt, tls.key and ca.crt",
        )
    if route.mode is TlsMode.SIMPLE and route.client_credential_name is not None:
        raise EgressRouteError(
            "client_credential_name", route.client_credential_name, "SIMPLE presents no client certificate",
            "use tls_mode MUTUAL to send it, or remove client_credential_name",
        )
    if route.mode is TlsMode.MUTUAL and route.ca_credential_name is not None:
        raise EgressRouteError(
            "ca_credential_name", route.ca_credential_name,
            "MUTUAL reads the CA from the client credential Secret (one credentialName per TLS setting)",
            "put ca.crt into the client_credential_name Secret and remove ca_credential_name",
        )
    if route.terminates:
        if args.get("http_port") is not None:
            raise EgressRouteError(
                "http_port", args["http_port"], "with terminate_credential_name apps speak HTTPS on `port`",
                "remove http_port, or remove terminate_credential_name to let apps speak plain HTTP",
            )
        if route.authorization_policy:
            raise EgressRouteError(
                "authorization_policy", True,
                f"when the gateway terminates the app's TLS ({mode}) the leg carries no mTLS identity",
                "drop terminate_credential_name (origination) to restrict clients, or rely on exportTo",
            )
    if route.originates and not route.terminates:
        http_port = _port("http_port", args.get("http_port"), DEFAULT_HTTP_PORT)
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
_PLAIN_YAML = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}


def yaml_value(value: Any) -> str:
    """``value`` as it would be written in stack config: plain where YAML reads it back as the same
    string, else JSON (which YAML reads too)."""
    if isinstance(value, TlsMode):
        value = value.value
    if isinstance(value, str) and _PLAIN_YAML.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _show(value: Any) -> str:
    if isinstance(value, (TlsMode, Dataplane)):
        return repr(value.value)
    return repr(value)


def _host(value: Any) -> str:
    if not isinstance(value, str):
        raise EgressRouteError("host", value, "it is not a string", "pass the host name as a string")
    problem = host_problem(value, allow_wildcard=False, allow_short=False)
    if problem is None and value != value.lower():
        problem = "it has upper-case letters; host names are case-insensitive and objects are named after them"
    if problem is None and value.endswith("."):
        problem = "it ends with '.'"
    if problem:
        raise EgressRouteError("host", value, problem, _host_fix(value))
    return value


def _host_fix(value: str) -> str:
    bare = value.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip(".").lower()
    if value.startswith("*") or "*" in value:
        return "name each concrete host in its own EgressRoute (wildcard egress cannot originate TLS)"
    if bare and bare != value and host_problem(bare, allow_wildcard=False, allow_short=False) is None:
        has_port = ":" in value.split("://")[-1]
        return f"pass the bare host name {bare!r}" + (" and set `port` separately" if has_port else "")
    return "pass a fully qualified DNS name such as 'api.example.com'"


def _optional_host(field: str, value: Any) -> str | None:
    if value is None:
        return None
    problem = (host_problem(value, allow_wildcard=False, allow_short=False)
               if isinstance(value, str) else "it is not a string")
    if problem:
        raise EgressRouteError(field, value, problem, "give a fully qualified DNS name, e.g. 'api.stripe.com'")
    return str(value)


def _mode(value: Any) -> TlsMode:
    try:
        return TlsMode(value)
    except ValueError:
        upper = value.upper() if isinstance(value, str) else None
        hint = f" (modes are upper case: {upper!r})" if upper in TlsMode.__members__ else ""
        raise EgressRouteError(
            "tls_mode", value, "it is not a known mode" + hint,
            "use one of " + ", ".join(repr(m.value) for m in TlsMode),
        ) from None


def _port(field: str, value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # Pulumi hands numbers over the wire as floats
    if isinstance(value, bool) or not isinstance(value, int):
        raise EgressRouteError(field, value, "it is not an integer", f"pass a port number, e.g. {default}")
    if not 1 <= value <= 65535:
        raise EgressRouteError(field, value, "it is outside 1-65535", f"pass a port number, e.g. {default}")
    return value


def _names(field: str, value: Any, problem_of: Callable[[str], str | None], example: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise EgressRouteError(field, value, "it is not a list of strings", f"pass a list, {example}")
    seen: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise EgressRouteError(field, item, "it is not a string", f"pass a list of strings, {example}")
        problem = problem_of(item)
        if problem:
            raise EgressRouteError(field, item, problem, f"fix or remove this entry; {example}")
        if item in seen:
            raise EgressRouteError(field, item, "it is listed twice", "list each entry once")
        seen.append(item)
    return tuple(seen)


def _namespace_problem(value: str) -> str | None:
    if value in ("*", ".", "~"):
        return f"{value!r} is an exportTo keyword, not a namespace; this route is exported to named namespaces"
    return dns1123_label_problem(value)


def _san_problem(value: str) -> str | None:
    return None if value.strip() == value and value else "it is empty or has surrounding spaces"


def _account_problem(value: str) -> str | None:
    namespace, slash, name = value.partition("/")
    if not slash:
        return "it is not of the form namespace/name"
    return dns1123_label_problem(namespace) or dns1123_subdomain_problem(name)


def _service_problem(fqdn: str, namespace: str) -> str | None:
    """The gateway Service must be named in full (`<name>.<namespace>.svc.<domain>`): the subset's
    DestinationRule lives in each client namespace, where a short name would mean a local Service."""
    labels = fqdn.split(".")
    if len(labels) < 4 or labels[2] != "svc":
        return "it is not a Kubernetes Service FQDN (<name>.<namespace>.svc.<cluster domain>)"
    if labels[1] != namespace:
        return f"its namespace {labels[1]!r} is not gateway_namespace {namespace!r}"
    return None


def _label(field: str, value: Any) -> str:
    problem = dns1123_label_problem(value) if isinstance(value, str) else "it is not a string"
    if problem:
        raise EgressRouteError(field, value, problem, "give a namespace name such as 'istio-system'")
    return str(value)


def _secret(field: str, value: Any) -> str | None:
    if value is None:
        return None
    problem = dns1123_subdomain_problem(value) if isinstance(value, str) else "it is not a string"
    if problem:
        raise EgressRouteError(field, value, problem, "name a Secret in the gateway namespace, e.g. 'stripe-client'")
    return str(value)


def _selector(value: Any) -> tuple[tuple[str, str], ...]:
    fix = "pass the egress gateway's pod labels, e.g. {'istio': 'egressgateway'}"
    if not isinstance(value, Mapping) or not value:
        raise EgressRouteError("gateway_selector", value, "it is not a non-empty mapping of labels", fix)
    for key, label in value.items():
        problem = (label_key_problem(key) if isinstance(key, str) else "its key is not a string") or (
            label_value_problem(label) if isinstance(label, str) else "its value is not a string")
        if problem:
            raise EgressRouteError("gateway_selector", {key: label}, problem, fix)
    return tuple(sorted(value.items()))
