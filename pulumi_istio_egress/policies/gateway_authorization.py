"""gateway-authorization-keeps-routes: an ALLOW AuthorizationPolicy on an egress gateway does not cut off its routes.

Once an ALLOW policy applies to a workload, every request no ALLOW rule matches is denied
(``Builder.build`` in pilot/pkg/security/authz/builder/builder.go builds the ALLOW rules into one
RBAC filter with action ALLOW). On a shared egress gateway one route's ALLOW policy therefore cuts
off every other route unless some ALLOW rule allows it too, on the filter chain it takes.

**Which policies apply to the gateway's pods** (``ListAuthorizationPolicies`` in
pilot/pkg/model/authorization.go, ``WorkloadPolicyMatcher.ShouldAttachPolicy`` in
pilot/pkg/model/policyattachment.go): those of the root namespace (config ``rootNamespace``) and
of the pods' namespace, without ``targetRefs``/``targetRef`` (a classic gateway's pods ignore
such policies altogether), whose ``selector.matchLabels`` is a subset of the pods' labels (no
selector: every pod of the namespace). The pods run in the namespace of the gateway Service the
mesh routes send the host to, not necessarily the Gateway object's; their labels include the
Gateway's ``selector`` and that Service's ``selector`` when the stack holds it. Only action
ALLOW (or unset) counts: DENY and AUDIT deny or log only what they match, CUSTOM hands what it
matches to an external authorizer, and a policy annotated ``istio.io/dry-run: "true"`` is built
as shadow rules, enforced nowhere (``isDryRun``).

**Which rules a route's filter chain evaluates.** A Gateway server with an HTTP protocol, or
HTTPS that terminates TLS, gets an HTTP chain; TLS passthrough, TCP and terminated TLS get a
TCP chain (``buildGatewayTCPBasedFilterChains`` in pilot/pkg/networking/core/gateway.go,
``IsHTTPServer`` in pkg/config/gateway). On a TCP chain an ALLOW rule with any HTTP-only field
is skipped whole (``Model.Generate`` returns the generator's error, ``rule.checkError`` keeps it
for ALLOW; pilot/pkg/security/authz/model): ``to.operation`` ``hosts``/``notHosts``,
``methods``/``notMethods``, ``paths``/``notPaths``; ``from.source``
``requestPrincipals``/``notRequestPrincipals``; ``when`` keys ``request.headers[...]``,
``request.auth.principal``, ``request.auth.audiences``, ``request.auth.presenter``,
``request.auth.claims[...]`` (generator.go). A ``when`` key istiod does not know makes the rule
invalid on every chain (``model.New``). A policy without rules allows nothing
(``rbacPolicyMatchNever``).

**Whether a rule can allow the route.** Its ``connection.sni`` values must match the SNI the
gateway sees (taken to be the host on every server with ``tls``: the app's own TLS, or the mTLS
leg whose SNI the subset's DestinationRule sets to the host, as EgressRoute and Istio's docs do;
none on a plain HTTP server), and on an
HTTP chain its ``hosts`` must match the ``:authority`` the apps send: ``h`` and ``h:<port>``
(Istio's security best practice is ``[h, "h:*"]``; ``HostMatcher`` in
pilot/pkg/security/authz/matcher, case-insensitive). Source conditions are the point of an ALLOW
and are not judged; neither are ports and destination IPs (the gateway pod's target port is not
in the stack) nor experimental filter keys: a rule that might allow the route is taken to allow
it.

**Not judged**: a policy whose selector names labels the stack does not show for the pods, and
namespace policies when no mesh route says where the pods run (root-namespace policies are still
judged): the route is left alone rather than guessed about.

Each cut-off route is reported once, on the first ALLOW policy (stack order) that applies to its
pods, at the path that excludes it (a single rule's field, else ``spec.rules``), naming the routes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from ..findings import Finding, Manifest
from .objects import (
    HTTP_PROTOCOLS,
    PASSING_THROUGH,
    dicts,
    host_key,
    host_matches,
    kind_of,
    meta,
    port_number,
    spec,
    strings,
    sub,
    unmodelled_service_entries,
)
from .routing import Router
from .rule import Config, StackRule
from .stack import ROOT_NAMESPACE_SCHEMA, Gateway, Stack, gc_paused, listing, root_namespace

DRY_RUN = "istio.io/dry-run"
HTTP_OPERATION = ("hosts", "notHosts", "methods", "notMethods", "paths", "notPaths")
HTTP_SOURCE = ("requestPrincipals", "notRequestPrincipals")
HTTP_WHEN = ("request.auth.principal", "request.auth.audiences", "request.auth.presenter")
HTTP_WHEN_PREFIXES = ("request.headers", "request.auth.claims")
KNOWN_WHEN = ("destination.ip", "destination.port", "connection.sni", "source.ip", "remote.ip", "source.namespace",
              "source.trustDomain", "source.serviceAccount", "source.principal", *HTTP_WHEN)
UNJUDGED_WHEN_PREFIX = "experimental.envoy.filters."
FIX = ("allow each route with a rule its filter chain evaluates (TLS/TCP: `when: [{key: connection.sni, values: "
       "[<host>]}]`; HTTP: `hosts: [<host>, '<host>:*']`), or restrict with a DENY policy instead, as EgressRoute "
       "does (README, Choices we made)")


class Route(NamedTuple):
    """A host through one Gateway server: what the gateway's filter chain for it looks like."""

    host: str
    gateway: Gateway
    port: int | None
    http: bool
    passthrough: bool
    sni: bool
    """The gateway sees the host as SNI (the server has ``tls``)."""
    authority: tuple[str, ...]
    """``:authority`` values the apps send (HTTP chains)."""
    namespaces: frozenset[str]
    """Where the gateway pods run (empty: no mesh route says)."""
    labels: dict[str, Any]
    """Labels the pods are known to carry."""

    def describe(self) -> str:
        chain = "TLS passthrough" if self.passthrough else "HTTP" if self.http else "TCP"
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.host}{port} ({chain}, Gateway {self.gateway.ref})"


def check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    with gc_paused():
        return _check(manifests, config)


def _check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    manifests = list(manifests) if isinstance(manifests, Iterator) else manifests
    if not isinstance(manifests, (list, tuple)):
        return []
    policies = [m for m in manifests if _is_allow(m)]
    if not policies:
        return []
    root = root_namespace(config)
    stack = Stack(manifests, root, destination_rules=False)
    cut: dict[int, tuple[Manifest, list[Manifest], list[tuple[Route, list[tuple[str, str]]]]]] = {}
    for route in _routes(stack, Router(stack), unmodelled_service_entries(manifests)):
        verdicts = [_applies(p, route, root) for p in policies]
        if None in verdicts:
            continue  # a policy that may or may not select the pods: not judged
        applying = [p for p, applies in zip(policies, verdicts, strict=True) if applies]
        if not applying:
            continue
        reasons = [_excludes(p, route) for p in applying]
        if any(r is None for r in reasons):
            continue
        first = applying[0]
        entry = cut.setdefault(id(first), (first, applying[1:], []))
        entry[2].append((route, reasons[0] or []))
    found: list[tuple[Manifest, Finding]] = []
    for policy, others, routes in cut.values():
        found += _report(policy, others, routes)
    return found


def _is_allow(manifest: Manifest) -> bool:
    if kind_of(manifest) != "AuthorizationPolicy":
        return False
    annotations = sub(manifest, "metadata", "annotations")
    dry_run = annotations.get(DRY_RUN) if isinstance(annotations, dict) else None
    # strconv.ParseBool's true values; a dry-run policy is built as shadow rules only.
    if dry_run in ("1", "t", "T", "TRUE", "true", "True"):
        return False
    return spec(manifest).get("action") in (None, "", "ALLOW")


def _routes(stack: Stack, router: Router, unmodelled: set[tuple[str, str]]) -> Iterator[Route]:
    seen: set[tuple[str, str, int | None]] = set()
    for entry in stack.service_entries:
        if (entry.namespace, entry.name) in unmodelled:
            continue
        for _, raw in strings(entry.body.get("hosts")):
            routing = router(host_key(raw))
            labels: dict[str, Any] = {}
            mesh_ports: set[int] = set()
            for mesh in routing.to_gateway:
                labels.update(stack.service_selector(mesh.destination.host) or {})
                mesh_ports |= mesh.ports or set()
            for vs, gateway in routing.gateway_legs:
                for server in _servers(gateway, routing.host, vs.namespace):
                    port = port_number(sub(server, "port", "number"))
                    key = (routing.host, gateway.ref, port)
                    if key in seen:
                        continue
                    seen.add(key)
                    yield _route(routing.host, gateway, server, port, mesh_ports, routing.gateway_namespaces,
                                 {**labels, **gateway.selector})


def _servers(gateway: Gateway, host: str, vs_namespace: str) -> Iterator[dict[str, Any]]:
    """The Gateway's servers that take ``host`` from a VirtualService in ``vs_namespace``."""
    for _, server in dicts(gateway.body.get("servers")):
        for _, entry in strings(server.get("hosts")):
            part, _, pattern = entry.rpartition("/")
            admits = part in ("", "*", vs_namespace) or (part == "." and vs_namespace == gateway.namespace)
            if admits and host_matches(host_key(pattern), host):
                yield server
                break


def _route(host: str, gateway: Gateway, server: dict[str, Any], port: int | None, mesh_ports: set[int],
           namespaces: frozenset[str], labels: dict[str, Any]) -> Route:
    protocol = str(sub(server, "port", "protocol") or "").upper()
    tls = server.get("tls")
    mode = tls.get("mode") if isinstance(tls, dict) else None
    passthrough = isinstance(tls, dict) and mode in PASSING_THROUGH
    http = protocol in HTTP_PROTOCOLS or (protocol == "HTTPS" and isinstance(tls, dict) and not passthrough)
    ports = sorted(mesh_ports) or ([port] if port is not None else [])
    return Route(host, gateway, port, http, passthrough, isinstance(tls, dict),
                 (host, *(f"{host}:{p}" for p in ports)), namespaces, labels)


def _applies(policy: Manifest, route: Route, root: str) -> bool | None:
    """Whether the policy applies to the route's gateway pods; None when the stack cannot tell."""
    body = spec(policy)
    if body.get("targetRefs") or body.get("targetRef"):
        return False  # ignored altogether by a workload that is not a Gateway API gateway
    namespace = meta(policy, "namespace")
    if namespace != root:
        if not route.namespaces:
            return None
        if namespace not in route.namespaces:
            return False
    selector = body.get("selector")
    labels = sub(selector, "matchLabels") if isinstance(selector, dict) else None
    if not isinstance(labels, dict):
        return True
    unknown = False
    for key, value in labels.items():
        if key not in route.labels:
            unknown = True
        elif route.labels[key] != value:
            return False
    return None if unknown else True


def _excludes(policy: Manifest, route: Route) -> list[tuple[str, str]] | None:
    """(path, why) for each rule, when no rule of the policy can allow the route; None when one can."""
    rules = spec(policy).get("rules")
    if not isinstance(rules, list) or not rules:
        return [("spec.rules", "it has no rules, so it allows nothing")]
    why: list[tuple[str, str]] = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, dict):
            continue  # istiod skips a nil rule
        reason = _rule_excludes(rule, f"spec.rules[{i}]", route)
        if reason is None:
            return None
        why.append(reason)
    return why or [("spec.rules", "istiod skips each of its rules (none is a mapping), so it allows nothing")]


def _rule_excludes(rule: dict[str, Any], path: str, route: Route) -> tuple[str, str] | None:
    when = list(dicts(rule.get("when")))
    for j, condition in when:
        key = condition.get("key")
        if not isinstance(key, str) or not (key in KNOWN_WHEN or key.startswith(
                (*HTTP_WHEN_PREFIXES, UNJUDGED_WHEN_PREFIX))):
            return f"{path}.when[{j}].key", f"istiod does not know the key {key!r}, so it skips the rule"
    if not route.http:
        dropped = _http_only(rule, path)
        if dropped is not None:
            return dropped, ("on its TCP filter chain istiod skips a rule with an HTTP-only field "
                             f"({dropped.rsplit('.', 1)[-1]})")
    for j, condition in when:
        if condition.get("key") == "connection.sni":
            reason = _sni_excludes(condition, f"{path}.when[{j}]", route)
            if reason is not None:
                return reason
    operations = [(f"{path}.to[{k}].operation", o.get("operation")) for k, o in dicts(rule.get("to"))]
    if not operations:
        return None
    reasons = [_operation_excludes(op, op_path, route) for op_path, op in operations]
    if any(r is None for r in reasons):
        return None
    return reasons[0]


def _http_only(rule: dict[str, Any], path: str) -> str | None:
    for k, to in dicts(rule.get("to")):
        for field in HTTP_OPERATION:
            if sub(to, "operation", field):
                return f"{path}.to[{k}].operation.{field}"
    for k, source in dicts(rule.get("from")):
        for field in HTTP_SOURCE:
            if sub(source, "source", field):
                return f"{path}.from[{k}].source.{field}"
    for j, condition in dicts(rule.get("when")):
        key = condition.get("key")
        if isinstance(key, str) and (key in HTTP_WHEN or key.startswith(HTTP_WHEN_PREFIXES)) and (
                condition.get("values") or condition.get("notValues")):
            return f"{path}.when[{j}].key"
    return None


def _sni_excludes(condition: dict[str, Any], path: str, route: Route) -> tuple[str, str] | None:
    values = [v for _, v in strings(condition.get("values"))]
    not_values = [v for _, v in strings(condition.get("notValues"))]
    if not route.sni:
        if values:
            return f"{path}.values", "the gateway sees no SNI on this plain HTTP server"
        return None
    if values and not any(_string_matches(v, route.host) for v in values):
        return f"{path}.values", f"its connection.sni values do not match {route.host}"
    if any(_string_matches(v, route.host) for v in not_values):
        return f"{path}.notValues", f"its connection.sni notValues match {route.host}"
    return None


def _operation_excludes(operation: Any, path: str, route: Route) -> tuple[str, str] | None:
    if not isinstance(operation, dict) or not route.http:
        return None
    hosts = [h for _, h in strings(operation.get("hosts"))]
    if hosts:
        missing = [a for a in route.authority if not any(_host_matches(h, a) for h in hosts)]
        if len(missing) == len(route.authority):
            return f"{path}.hosts", f"its hosts match no Host the apps send ({listing(missing)})"
        if missing:
            return f"{path}.hosts", (f"its hosts do not match the Host {listing(missing)} that clients naming the "
                                     "port send, so those requests are denied")
    not_hosts = [h for _, h in strings(operation.get("notHosts"))]
    if not_hosts and all(any(_host_matches(h, a) for h in not_hosts) for a in route.authority):
        return f"{path}.notHosts", f"its notHosts match {route.host}"
    return None


def _string_matches(pattern: str, value: str) -> bool:
    """``matcher.StringMatcher``: exact, ``prefix*``, ``*suffix``, ``*`` for any value."""
    if pattern == "*":
        return bool(value)
    if pattern.startswith("*"):
        return value.endswith(pattern[1:])
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def _host_matches(pattern: str, authority: str) -> bool:
    """``matcher.HostMatcher``: as ``StringMatcher``, ignoring case."""
    return _string_matches(pattern.lower(), authority.lower())


def _report(policy: Manifest, others: list[Manifest],
            routes: list[tuple[Route, list[tuple[str, str]]]]) -> list[tuple[Manifest, Finding]]:
    by_path: dict[str, list[tuple[Route, list[tuple[str, str]]]]] = {}
    for route, reasons in routes:
        paths = {p for p, _ in reasons}
        by_path.setdefault(paths.pop() if len(paths) == 1 else "spec.rules", []).append((route, reasons))
    found: list[tuple[Manifest, Finding]] = []
    for path, cut in by_path.items():
        shown = [f"{r.describe()}: {'; '.join(dict.fromkeys(w for _, w in reasons))}" for r, reasons in cut[:5]]
        more = f"; and {len(cut) - 5} more" if len(cut) > 5 else ""
        names = [_ref(o) for o in others]
        also = f" (nor does any other ALLOW policy on those pods: {listing(names)})" if others else ""
        pods = sorted({ns for r, _ in cut for ns in r.namespaces})
        where = f"in {listing(pods)}" if pods else "in every namespace"
        message = (f"this ALLOW policy applies to the egress gateway pods {where}, so they deny every request no "
                   f"ALLOW rule matches, and its rules do not allow {'; '.join(shown)}{more}{also}")
        found.append((policy, Finding(path, _value(policy, path), message, FIX)))
    return found


def _ref(manifest: Manifest) -> str:
    return f"{meta(manifest, 'namespace')}/{meta(manifest, 'name')}"


def _value(policy: Manifest, path: str) -> Any:
    value: Any = policy
    for part in path.replace("]", "").replace("[", ".").split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


RULE = StackRule(
    name="gateway-authorization-keeps-routes",
    description="An ALLOW AuthorizationPolicy on an egress gateway's pods allows every route through that gateway "
                "with a rule its filter chain evaluates; otherwise it denies them.",
    severity="high",
    enforcement="mandatory",
    check=check,
    config_schema=ROOT_NAMESPACE_SCHEMA,
)
