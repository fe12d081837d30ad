"""egress-visibility: egress objects are visible where sidecars need them, and nowhere else.

For each host of each MESH_EXTERNAL ServiceEntry, the client namespaces are those the ServiceEntry
is exported to, less its own namespace when the egress gateway lives there (see
``routing.client_namespaces``).

Objects sidecars must see are scoped (exportTo neither ``*`` nor unset) and visible from every
client namespace:

- the ServiceEntry itself (it defines the client namespaces, so only its scope counts);
- the VirtualService that routes the host from ``mesh`` to the egress gateway;
- the DestinationRule defining that route's gateway subset: found by istiod's lookup from the
  client namespace (its own namespace, else exported from the gateway Service's namespace or
  the root namespace; shadowing is ``egress-references-resolve``'s business).

One finding per fact: an object exported to every namespace that ``export-to-scoped`` recognises
as egress on its own (every ServiceEntry, a VirtualService bound to mesh and a Gateway, a
DestinationRule for an ``*egressgateway*`` host or originating TLS) is that rule's finding
(``objects.reports_everywhere``); this rule reports the scope of the others it finds through
the stack (a mesh-only VirtualService to the gateway, the subset rule of a gateway Service with
another name, a DestinationRule carrying only a ``credentialName``).

Objects only the gateway needs - a DestinationRule for an external host that originates TLS
(SIMPLE or MUTUAL) or carries a ``credentialName`` - live in the namespace the gateway runs in (that
of the gateway Service the mesh routes send the host to, not the Gateway object's) and are exported
to ``.`` only: the gateway reads credentials
from its own namespace, and a sidecar that saw the rule would originate TLS itself. These are
judged only when a Gateway serves the host (without one there is no gateway to keep them for).
When the ServiceEntry is exported to every namespace, the clients cannot be listed: client
visibility is not judged (``export-to-scoped`` reports the ServiceEntry's scope).

Ambient ServiceEntries (bound to a waypoint, :mod:`.routing_ambient`) are not judged: their clients
are not the namespaces exportTo names, because ztunnel and waypoints ignore exportTo
(``waypoints.AMBIENT_IGNORES_EXPORT_TO``), and no VirtualService or subset carries them; their
origination DestinationRule, in the waypoint's namespace, is the waypoint's (``routing_ambient.waypoint_homes``)
and not judged either, also when a sidecar route's Gateway serves the same host.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

from ..findings import Finding, Manifest
from .gateway_api_findings import unjudged, visibility_findings
from .objects import (
    ORIGINATING,
    destination_rule_tls,
    export_to,
    host_key,
    reports_everywhere,
    strings,
    unmodelled_service_entries,
    visible_in,
    waypoint_service_entries,
)
from .routing import Router, Routing, client_namespaces
from .routing_ambient import waypoint_homes
from .routing_gateway_api import GatewayApi
from .rule import Config, StackRule
from .stack import (
    LIST_LIMIT,
    ROOT_NAMESPACE_SCHEMA,
    DestinationRule,
    Obj,
    Report,
    Stack,
    gc_paused,
    listing,
    root_namespace,
)

FIX_SCOPE = "set exportTo to '.' and the client namespaces that use the route"


def check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    with gc_paused():
        return _check(manifests, config)


def _check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    manifests = list(manifests) if isinstance(manifests, Iterator) else manifests
    # Gateway API and ambient (ztunnel/waypoints ignore exportTo: routing_ambient): not judged.
    unmodelled = unmodelled_service_entries(manifests)
    stack = Stack(manifests, root_namespace(config))
    router = Router(stack)
    report = Report()
    clients_of: dict[str, set[str]] = {}
    for entry in stack.service_entries:
        if (entry.namespace, entry.name) in unmodelled:
            continue
        # Exported everywhere: export-to-scoped reports it (every ServiceEntry is egress to it).
        hosts = [host_key(raw) for _, raw in strings(entry.body.get("hosts"))]
        for host in hosts:
            routing = router(host)
            clients = client_namespaces(entry, routing)
            listed = clients_of.setdefault(host, set())
            if "*" not in clients:  # everywhere: reported above as not scoped, no clients to list
                listed.update(clients)
                _virtual_service_clients(entry, routing, clients, report)
    judged: set[tuple[str, str]] = set()
    reach: dict[tuple[str, str], frozenset[str]] = {}
    for host, known in clients_of.items():
        routing = router(host)
        _scoped(stack, routing, report, judged)
        _subset_clients(stack, routing, known, report, reach)
    homes: dict[str, tuple[bool, list[str]]] = {}
    api = GatewayApi(manifests)  # Gateway API gateways run where their Gateway is (routing_gateway_api)
    waypoints = waypoint_homes(manifests)
    for rule in stack.destination_rules:
        if rule.namespace not in waypoints.get(rule.host, ()):  # else the waypoint's rule: not judged
            _gateway_only(stack, router, api, rule, report, homes)
    return report.items + visibility_findings(manifests, waypoint_service_entries(manifests))


def _raw(obj: Obj) -> Any:
    return obj.body.get("exportTo")


def _namespaces(count: int) -> str:
    return "namespace" if count == 1 else "namespaces"


def _unscoped(obj: Obj) -> str:
    raw = obj.body.get("exportTo")
    if raw is None or raw == []:
        return "unset exportTo"
    return "exportTo '*'" if export_to(obj.manifest) else "an exportTo without namespace names (read as unset)"


def _virtual_service_clients(entry: Obj, routing: Routing, clients: frozenset[str], report: Report) -> None:
    if not routing.mesh_virtual_services:
        return  # no route to the gateway at all: egress-via-gateway says so
    missing = sorted(ns for ns in clients if not visible_in(routing.scope, ns))
    if missing:
        vs = routing.mesh_virtual_services[0]
        report.add(vs, "spec.exportTo", _raw(vs),
                   f"the VirtualService routing {routing.host} to the egress gateway is not exported to client "
                   f"{_namespaces(len(missing))} {listing(missing)}, where ServiceEntry {entry.ref} exports "
                   f"{routing.host}, so sidecars there bypass the gateway",
                   f"add {listing(missing)} to spec.exportTo")


def _scoped(stack: Stack, routing: Routing, report: Report, judged: set[tuple[str, str]]) -> None:
    """The sidecars' objects for this host are not exported to every namespace."""
    for vs in routing.mesh_virtual_services:
        if "*" in vs.scope and not reports_everywhere(vs.manifest):
            report.add(vs, "spec.exportTo", _raw(vs),
                       f"the VirtualService routing {routing.host} to the egress gateway is not scoped: "
                       f"{_unscoped(vs)} shows it to every namespace", FIX_SCOPE)
    for pairs in routing.subsets.values():
        for service, subset in pairs:
            if (service, subset) in judged:
                continue
            judged.add((service, subset))
            for rule in stack.destination_rules_defining(service, subset):
                if "*" in rule.scope and not rule.selected and not reports_everywhere(rule.manifest):
                    report.add(rule, "spec.exportTo", _raw(rule),
                               f"the DestinationRule defining egress gateway subset {subset} of {service} is not "
                               f"scoped: {_unscoped(rule)} shows it to every namespace",
                               "export it to '.' in each client namespace (EgressRoute creates one per client "
                               "namespace)")


def _subset_clients(stack: Stack, routing: Routing, clients: set[str], report: Report,
                    reach: dict[tuple[str, str], frozenset[str]]) -> None:
    """Each client namespace finds the gateway subset of every mesh route it sees for this host."""
    users: dict[tuple[str, str], set[str] | None] = {}  # None: all clients (the route is exported everywhere)
    for vs, pairs in routing.subsets.items():
        for pair in pairs:
            known = users.setdefault(pair, set())
            if known is not None and "*" in vs.scope:
                users[pair] = None
            elif known is not None:
                known.update(vs.scope & clients)
    ordered = sorted(clients)
    for (service, subset), using in users.items():
        rules = stack.destination_rules_defining(service, subset)
        if not rules:
            continue  # no such subset anywhere: egress-references-resolve says so
        if (service, subset) not in reach:
            reach[(service, subset)] = frozenset[str]().union(*(stack.reach(r) for r in rules))
        seen = reach[(service, subset)]
        if "*" in seen:
            continue
        if using is None:
            # Read only the first few lacking clients; count the rest without walking them.
            missing = list(islice((ns for ns in ordered if ns not in seen), LIST_LIMIT))
            total = len(clients) - len(seen & clients)
        else:
            missing = sorted(using - seen)
            total = len(missing)
        if missing:
            homes = list(dict.fromkeys([*stack.service_namespaces(service)[:LIST_LIMIT], stack.root]))
            report.add(rules[0], "spec.exportTo", _raw(rules[0]),
                       f"no DestinationRule defining egress gateway subset {subset} of {service} is visible from "
                       f"client {_namespaces(total)} {listing(missing, total)} (Istio looks in the client's "
                       f"namespace, then for rules exported to it from {listing(homes)}), so sidecars there cannot "
                       f"route {routing.host} to the gateway",
                       f"add a DestinationRule for {service} with subset {subset} to {listing(missing, total)}, "
                       "exported to '.'")


def _gateway_only(stack: Stack, router: Router, api: GatewayApi, rule: DestinationRule, report: Report,
                  homes_of: dict[str, tuple[bool, list[str]]]) -> None:
    if not stack.is_external(rule.host):
        return
    if rule.host not in homes_of:
        # Served by a Gateway at all; and where the gateway runs, from the Services mesh routes send
        # the host to (the Gateway object's namespace says nothing about where its pods are).
        deployed = {g.namespace for g in api.serving(rule.host)}
        homes_of[rule.host] = (bool(stack.gateways_serving(rule.host)) or bool(deployed),
                               sorted(router(rule.host).gateway_namespaces | deployed))
    served, homes = homes_of[rule.host]
    if not served:
        return
    settings = [tls for _, tls in destination_rule_tls(rule.manifest)]
    modes = sorted({m for tls in settings if (m := tls.get("mode")) in ORIGINATING})
    credentials = sorted({c for tls in settings if isinstance(c := tls.get("credentialName"), str) and c})
    if not modes and not credentials:
        return
    what = (f"originating TLS ({'/'.join(modes)}) to {rule.host}" if modes else
            f"for {rule.host} with credentialName {listing(credentials)}")
    # A rule with a workloadSelector applies in its own namespace only, whatever exportTo says.
    beyond = [] if rule.selected else sorted(rule.scope - {rule.namespace})
    if beyond and not ("*" in beyond and reports_everywhere(rule.manifest)):
        shown = "every namespace" if "*" in beyond else listing(beyond)
        report.add(rule, "spec.exportTo", _raw(rule),
                   f"the DestinationRule {what} is exported beyond its namespace, to {shown}: only the egress "
                   "gateway needs it, and sidecars that see it would originate TLS themselves",
                   "set exportTo to ['.'] and keep the rule in the egress gateway's namespace")
    if homes and rule.namespace not in homes and not _gateway_finds(stack, rule, homes, credentials):
        report.add(rule, "metadata.namespace", rule.namespace,
                   f"the DestinationRule {what} lives in namespace {rule.namespace}, not in the egress gateway's "
                   f"namespace {listing(homes)}: the gateway reads credentials only from its own namespace and "
                   f"does not see it, while it applies to the sidecars in {rule.namespace} instead",
                   f"move it to namespace {homes[0]}, exported to '.' only")


def _gateway_finds(stack: Stack, rule: DestinationRule, homes: list[str], credentials: list[str]) -> bool:
    """Whether the gateway's proxies use ``rule`` where it is, so its namespace is not wrong: istiod's
    lookup from each gateway namespace finds it (PushContext.destinationRule, push_context.go: the
    proxy's namespace, then rules exported from the service's namespace, then the root namespace) and
    it names no credential (a Secret is read from the gateway pod's namespace only, pilot/pkg/xds/sds.go;
    SIMPLE without credentialName reads none)."""
    return not credentials and all(rule in stack.destination_rules_for(home, rule.host) for home in homes)


RULE = StackRule(
    name="egress-visibility",
    description="Egress objects sidecars need are scoped to and visible from the client namespaces; objects only "
                "the gateway needs live in its namespace, exported to '.'.",
    severity="medium",
    enforcement="mandatory",
    check=check,
    config_schema=ROOT_NAMESPACE_SCHEMA,
    applies=lambda manifests, _config: unjudged("egress-visibility", manifests),
)
