"""egress-references-resolve: what VirtualServices and DestinationRules refer to exists and agrees.

Each finding is reported on the referencing object, at the exact path of the reference:

- ``gateways`` and ``match[].gateways`` of a VirtualService name Gateways of the stack
  (``namespace/name``; a short name is in the VirtualService's namespace; ``mesh`` is a keyword).
- Every ``destination.subset`` is defined by the DestinationRule Istio uses for that destination
  host in each namespace that uses the route. The lookup is istiod's (``PushContext.destinationRule``):
  rules of the client's own namespace; else rules exported to it from the destination Service's
  namespace (the second label of ``<name>.<ns>.svc.<domain>``, or the namespace of the ServiceEntry
  declaring the host); else from the root namespace. The most specific host wins, and a rule found
  early shadows later ones even when it lacks the subset; among unmerged rules found in one
  place (different exportTo) the last created wins (``SidecarScope.DestinationRule``). Rules
  with a ``workloadSelector`` apply to selected workloads only and are left out.
  Who uses a route: for a ``mesh`` route, the namespaces the VirtualService is exported to (for
  ``*``: the namespaces that hold a DestinationRule for the host, plus "every other namespace");
  when the VirtualService also binds a Gateway, less the destination Service's own namespace (the
  gateway's): it is exported there for the gateway proxy, which takes gateway routes, not mesh
  ones. For a gateway route: the bound Gateway object's namespace (where our gateways run).
- SNI agrees: the ``sniHosts`` of a tls match are served by the Gateways the match binds, and the
  ISTIO_MUTUAL ``sni`` on an egress-gateway subset (one a mesh route uses in a VirtualService that
  also binds Gateways) is a host those Gateways serve: the gateway picks its server by that SNI.
- Ports agree: a mesh leg to the egress gateway goes to a port where a Gateway serving the host
  has a server for it, and a gateway-bound match's port is one its Gateway serves the host on
  (:mod:`.gateway_ports`: ``buildGatewayListeners``, ``translateRoute``).
- DestinationRules Istio merges (same host, same namespace, no workloadSelector, same exportTo) do
  not collide: a subset defined by two of them, or two top-level trafficPolicies. Istio keeps the
  first-created one and drops the other without a word.

The stack index is :class:`.stack.Stack`.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice

from ..findings import Finding, Manifest
from .gateway_api_findings import reference_findings, unjudged
from .gateway_ports import message as ports_message
from .objects import MESH, dicts, gateway_ref, host_key, service_namespace, strings
from .routing import Router, port_mismatches
from .rule import Config, StackRule
from .stack import (
    ANY_NAMESPACE,
    LIST_LIMIT,
    ROOT_NAMESPACE_SCHEMA,
    ROUTE_SECTIONS,
    Destination,
    DestinationRule,
    Gateway,
    Report,
    RouteRule,
    Stack,
    VirtualService,
    gc_paused,
    listing,
    refs,
    root_namespace,
)


def check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    with gc_paused():
        return _check(manifests, config)


def _check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    stack = Stack(manifests, root_namespace(config))
    report = Report()
    sni_judged: set[tuple[str, str, tuple[str, ...]]] = set()
    for vs in stack.virtual_services:
        _gateway_references(stack, vs, report)
        for rule in vs.rules:
            _sni_hosts(stack, vs, rule, report)
            for destination in rule.destinations:
                if destination.subset is not None:
                    _subset(stack, vs, rule, destination, destination.subset, report, sni_judged)
    _gateway_ports(stack, report)
    _collisions(stack, report)
    return report.items + reference_findings(manifests)  # Gateway API parentRefs: routing_gateway_api


def _gateway_ports(stack: Stack, report: Report) -> None:
    """Route ports the egress gateway has no server for the host on (:mod:`.gateway_ports`)."""
    router = Router(stack)
    hosts = dict.fromkeys(h for vs in stack.virtual_services for h in vs.hosts if "*" not in h)
    for host in hosts:
        for mismatch in port_mismatches(stack, router(host)):
            message, fix = ports_message(mismatch)
            report.add(mismatch.vs, mismatch.path, mismatch.port, message, fix)


def _gateway_references(stack: Stack, vs: VirtualService, report: Report) -> None:
    references = [(f"spec.gateways[{i}]", name) for i, name in strings(vs.body.get("gateways"))]
    for section in ROUTE_SECTIONS:
        for j, rule in dicts(vs.body.get(section)):
            for k, match in dicts(rule.get("match")):
                references += [(f"spec.{section}[{j}].match[{k}].gateways[{i}]", name)
                               for i, name in strings(match.get("gateways"))]
    for path, name in references:
        ref = gateway_ref(vs.manifest, name)
        if ref == MESH or ref in stack.gateways:
            continue
        short = "" if "/" in name else f" (a short name is in the VirtualService's namespace, {vs.namespace})"
        report.add(vs, path, name, f"Gateway {ref} does not exist in the stack{short}, so these routes are bound "
                   "to no gateway", f"create Gateway {ref}, or name an existing Gateway as <namespace>/<name>")


def _sni_hosts(stack: Stack, vs: VirtualService, rule: RouteRule, report: Report) -> None:
    for match in rule.matches:
        for ref in sorted(match.gateways):
            gateway = stack.gateways.get(ref) if ref in vs.bound else None
            if gateway is None or match.sni is None:
                continue
            for i, sni in match.sni:
                if not gateway.serves(host_key(sni), vs.namespace):
                    report.add(vs, f"{match.path}.sniHosts[{i}]", sni,
                               f"SNI host {sni} is not served by Gateway {ref} (its servers take {gateway.hosts()}), "
                               "so the gateway never matches this route",
                               f"add {sni} to a server's hosts of Gateway {ref}, or match the SNI host it serves")


def _subset(stack: Stack, vs: VirtualService, rule: RouteRule, destination: Destination, subset: str,
            report: Report, sni_judged: set[tuple[str, str, tuple[str, ...]]]) -> None:
    host = destination.host
    gateways = [stack.gateways[g] for g in vs.bound if g != MESH and g in stack.gateways]
    defined_in, failing, hidden = _subset_clients(stack, vs, rule, host, subset)
    key = (host, subset, tuple(g.ref for g in gateways))
    if MESH in vs.bound and rule.applies(MESH) and gateways and key not in sni_judged:
        sni_judged.add(key)
        for client in sorted({*defined_in[0], *defined_in[1]}):
            for found in stack.subset_rules(client, host).get(subset, ()):
                _subset_sni(found, subset, gateways, vs, report)
    if not failing:
        return
    shadowed: dict[str, list[str]] = {}  # namespace -> the rules Istio uses there, without the subset
    for client in failing:
        used = [r.ref for r in stack.destination_rules_for(client, host)]
        if used:
            shadowed[client] = used
    unseen = [client for client in failing if client not in shadowed]
    reasons = []
    if shadowed:
        used = list(dict.fromkeys(ref for refs_used in shadowed.values() for ref in refs_used))
        reasons.append(f"in {listing(list(shadowed))} the DestinationRule Istio uses there ({listing(used)}) does not "
                       "define it")
    if unseen:
        reasons.append(f"in {listing(unseen)} no DestinationRule for the host is visible")
    if hidden:
        reasons.append(f"and in {hidden} more namespace{'s' if hidden > 1 else ''}")
    where = "; ".join(reasons)
    report.add(vs, f"{destination.path}.subset", subset,
               f"subset {subset} of {host} is not defined where this route is used: {where}; requests on the "
               "route fail with 503",
               f"define subset {subset} in a DestinationRule for {host} that those namespaces see "
               "(EgressRoute puts one in each client namespace, exported to '.'), or fix the subset name")


def _subset_clients(stack: Stack, vs: VirtualService, rule: RouteRule, host: str,
                    subset: str) -> tuple[tuple[set[str], list[str]], list[str], int]:
    """The namespaces using the route that find the subset (read lazily: a cached set and a list),
    the first few that do not, and how many more do not."""
    holders: set[str] = set()
    found_in: list[str] = []
    failing: list[str] = []
    more = 0
    clients = [stack.gateways[g].namespace for g in vs.bound if g in stack.gateways and rule.applies(g)]
    if MESH in vs.bound and rule.applies(MESH):
        # An egress VirtualService is exported to the gateway Service's namespace for the gateway
        # proxy, which takes the gateway routes; no sidecar there uses the mesh ones.
        home = service_namespace(host) if any(g != MESH for g in vs.bound) else None
        if "*" not in vs.scope:
            clients += sorted(vs.scope - {home})
        else:
            # Everywhere: namespaces with rules of their own for the host, then "every other one".
            # Only the first few lacking ones are read; the rest are counted from the index.
            namespaces, defined = stack.subset_coverage(host)
            holders = defined.get(subset, holders)
            failing += islice((ns for ns in namespaces if ns not in holders and ns != home), LIST_LIMIT)
            home_lacks = home is not None and home not in holders and stack.has_destination_rule(host, home)
            lacking = len(namespaces) - len(holders) - home_lacks
            more = lacking - len(failing)
            clients.append(ANY_NAMESPACE)
    for client in dict.fromkeys(clients):
        found = subset in stack.subset_rules(client, host)
        (found_in if found else failing).append(client)
    return (holders, found_in), failing[:LIST_LIMIT], more + max(0, len(failing) - LIST_LIMIT)


def _subset_sni(rule: DestinationRule, subset: str, gateways: list[Gateway], vs: VirtualService,
                report: Report) -> None:
    for i, name in rule.subsets:
        if name != subset:
            continue
        policy = rule.body["subsets"][i].get("trafficPolicy")
        settings = [(f"spec.subsets[{i}].trafficPolicy.tls", policy.get("tls"))] if isinstance(policy, dict) else []
        if isinstance(policy, dict):
            settings += [(f"spec.subsets[{i}].trafficPolicy.portLevelSettings[{j}].tls", s.get("tls"))
                         for j, s in dicts(policy.get("portLevelSettings"))]
        for path, tls in settings:
            sni = tls.get("sni") if isinstance(tls, dict) else None
            if not isinstance(tls, dict) or tls.get("mode") != "ISTIO_MUTUAL" or not isinstance(sni, str):
                continue
            if not any(g.serves(host_key(sni)) for g in gateways):
                report.add(rule, f"{path}.sni", sni,
                           f"SNI {sni} of egress gateway subset {subset} is not a host that Gateway {refs(gateways)} "
                           f"(bound by VirtualService {vs.ref}) serves, so the gateway's ISTIO_MUTUAL server "
                           "does not take the connection",
                           f"set sni to the external host the Gateway serves ({gateways[0].hosts()})")


def _collisions(stack: Stack, report: Report) -> None:
    merged: dict[tuple[str, str, frozenset[str]], list[DestinationRule]] = {}
    for rule in stack.destination_rules:
        if not rule.selected:
            merged.setdefault((rule.namespace, rule.host, rule.raw_export), []).append(rule)
    for rules in merged.values():
        owners: dict[str, DestinationRule] = {}
        policy: DestinationRule | None = None
        for rule in rules:
            for i, name in rule.subsets:
                owner = owners.setdefault(name, rule)
                if owner is not rule:
                    report.add(rule, f"spec.subsets[{i}].name", name,
                               f"subset {name} is also defined by DestinationRule {owner.ref}; Istio merges the "
                               f"DestinationRules for {rule.host} that share a namespace and exportTo, and silently "
                               "keeps only the first-created definition",
                               "define the subset in one DestinationRule only, or rename one of them")
            if isinstance(rule.body.get("trafficPolicy"), dict):
                if policy is None:
                    policy = rule
                else:
                    report.add(rule, "spec.trafficPolicy", None,
                               f"DestinationRule {policy.ref} already has a top-level trafficPolicy; Istio merges "
                               f"the DestinationRules for {rule.host} that share a namespace and exportTo, and "
                               "silently keeps only the first-created policy",
                               "put the policy in one DestinationRule for the host, or merge the two rules")


RULE = StackRule(
    name="egress-references-resolve",
    description="VirtualService gateways and subsets resolve as Istio resolves them, SNI agrees between "
                "VirtualService, Gateway and DestinationRule, and merged DestinationRules do not collide.",
    severity="high",
    enforcement="mandatory",
    check=check,
    config_schema=ROOT_NAMESPACE_SCHEMA,
    applies=lambda manifests, _config: unjudged("egress-references-resolve", manifests),
)
