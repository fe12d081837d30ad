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
- DestinationRules Istio merges (same host, same namespace, no workloadSelector, same exportTo) do
  not collide: a subset defined by two of them, or two top-level trafficPolicies. Istio keeps the
  first-created one and drops the other without a word.

The module also holds :class:`Stack`, the index all three stack rules build once per call: objects
are read once and looked up by ``namespace/name`` and by host pattern, so a rule's work grows with
the number of objects, never with their pairs.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from typing import Any, NamedTuple, TypeVar

from ..findings import Finding, Manifest
from .objects import (
    EGRESS_KINDS,
    MESH,
    bound_gateways,
    covering_patterns,
    dicts,
    export_to,
    exported_to,
    gateway_ref,
    host_key,
    host_matches,
    is_external_service_entry,
    meta,
    networking_kind,
    port_number,
    service_namespace,
    spec,
    strings,
)
from .rule import Config, StackRule

ROOT_NAMESPACE = "istio-system"
ANY_NAMESPACE = "*"
"""A client namespace standing for every namespace without DestinationRules of its own."""
ROUTE_SECTIONS = ("http", "tls", "tcp")
LIST_LIMIT = 5
ANY_TEXT = "every other namespace"


# --- the stack index ---------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Obj:
    """One Istio object of the stack, read once."""

    manifest: Manifest
    kind: str
    namespace: str
    name: str
    body: dict[str, Any]
    scope: frozenset[str]
    """``exported_to``: the namespaces that see it, ``{"*"}`` for all."""
    order: int

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


_O = TypeVar("_O", bound=Obj)


class Destination(NamedTuple):
    path: str
    """``spec.tls[0].route[1].destination``"""
    host: str
    """The host key, short names resolved in the VirtualService's namespace."""
    subset: str | None


class Match(NamedTuple):
    path: str
    gateways: frozenset[str]
    """Where the match applies: its own ``gateways``, else the VirtualService's."""
    sni: tuple[tuple[int, str], ...] | None
    """(index, host) of ``sniHosts``; None when the match does not restrict hosts."""
    port: int | None = None
    """The match's ``port``; None when it takes every port."""


class RouteRule(NamedTuple):
    path: str
    section: str
    matches: tuple[Match, ...]
    destinations: tuple[Destination, ...]

    def applies(self, gateway: str, host: str | None = None) -> bool:
        """Whether traffic through ``gateway`` (for ``host``, when given) takes this rule."""
        return any(
            gateway in m.gateways and (host is None or m.sni is None or any(host_matches(s, host) for _, s in m.sni))
            for m in self.matches
        )


@dataclass(eq=False, slots=True)
class VirtualService(Obj):
    hosts: tuple[str, ...]
    bound: tuple[str, ...]
    """``gateways`` as ``namespace/name`` or ``mesh``."""
    rules: tuple[RouteRule, ...]


@dataclass(eq=False, slots=True)
class Gateway(Obj):
    selector: dict[str, Any]
    served: dict[str, set[str]]
    """Server host pattern -> the namespace parts of ``ns/host`` entries (``*`` when none)."""

    def serves(self, host: str, vs_namespace: str | None = None) -> bool:
        """Whether a server takes ``host`` (from a VirtualService in ``vs_namespace``, when given)."""
        for pattern in covering_patterns(host):
            parts = self.served.get(pattern)
            if parts and (vs_namespace is None or any(self._admits(part, vs_namespace) for part in parts)):
                return True
        if host.startswith("*"):
            # A wildcard SNI or host also reaches the servers of the concrete names it covers.
            return any(host_matches(host, pattern) for pattern in self.served)
        return False

    def _admits(self, part: str, vs_namespace: str) -> bool:
        return part in ("*", vs_namespace) or (part == "." and vs_namespace == self.namespace)

    def hosts(self) -> str:
        return listing(sorted(self.served))


@dataclass(eq=False, slots=True)
class DestinationRule(Obj):
    host: str
    raw_export: frozenset[str]
    """exportTo as written: Istio merges rules only when these sets are equal."""
    selected: bool
    """Has a workloadSelector."""
    subsets: tuple[tuple[int, str], ...]

    @property
    def private(self) -> bool:
        """Exported to its own namespace only (istiod keeps such rules out of the exported index)."""
        return len(self.raw_export) == 1 and ("." in self.raw_export or self.namespace in self.raw_export)

    @property
    def namespace_local(self) -> bool:
        """Seen by proxies of its own namespace (the first place they look)."""
        raw = self.raw_export
        return not raw or bool(raw & {"*", ".", self.namespace})

    def defines(self, subset: str) -> bool:
        return any(name == subset for _, name in self.subsets)


class Stack:
    """Every object a stack rule looks at, indexed once by ``namespace/name`` and by host."""

    def __init__(self, manifests: Any, root_namespace: str = ROOT_NAMESPACE, destination_rules: bool = True) -> None:
        self.root = root_namespace
        self._with_destination_rules = destination_rules
        self.service_entries: list[Obj] = []
        """MESH_EXTERNAL ServiceEntries, in stack order."""
        self.virtual_services: list[VirtualService] = []
        self.destination_rules: list[DestinationRule] = []
        self.gateways: dict[str, Gateway] = {}
        self._external: dict[str, list[Obj]] = {}
        # ServiceEntry host -> its namespaces; the first (stack order) seen everywhere / by a client.
        self._entry_namespaces: dict[str, dict[str, None]] = {}
        self._entry_public: dict[str, tuple[int, str]] = {}
        self._entry_for: dict[tuple[str, str], tuple[int, str]] = {}
        self._vs_by_host: dict[str, list[VirtualService]] = {}
        self._gw_by_host: dict[str, list[Gateway]] = {}
        self._selectors: dict[str, dict[str, Any]] = {}
        self._dr_by_subset: dict[tuple[str, str], list[DestinationRule]] = {}
        self._dr_namespaces: dict[str, set[str]] = {}
        self._local: dict[tuple[str, str], list[DestinationRule]] = {}
        self._root_local: dict[tuple[str, str], list[DestinationRule]] = {}
        self._exported: dict[tuple[str, str], list[DestinationRule]] = {}
        # The exported pool split by audience, so a lookup reads only the rules meant for its client.
        self._exported_public: dict[tuple[str, str], list[DestinationRule]] = {}
        self._exported_for: dict[tuple[str, str, str], list[DestinationRule]] = {}
        self._lookups: dict[tuple[str, str], list[DestinationRule]] = {}
        self._subsets_in: dict[tuple[str, str], dict[str, list[DestinationRule]]] = {}
        self._coverage: dict[str, tuple[list[str], dict[str, set[str]]]] = {}
        # Memos: many objects may ask about one host.
        self._vs_for: dict[str, list[VirtualService]] = {}
        self._gw_for: dict[str, list[Gateway]] = {}
        for order, manifest in enumerate(_items(manifests)):
            self._add(order, manifest)

    # -- reading ------------------------------------------------------------------------------

    def _add(self, order: int, manifest: Any) -> None:
        kind = networking_kind(manifest)
        if kind not in EGRESS_KINDS:
            self._add_service(manifest)
            return
        base: dict[str, Any] = {
            "manifest": manifest, "kind": kind, "namespace": meta(manifest, "namespace"),
            "name": meta(manifest, "name"), "body": spec(manifest), "scope": exported_to(manifest), "order": order,
        }
        if kind == "ServiceEntry":
            self._add_service_entry(Obj(**base))
        elif kind == "VirtualService":
            self._add_virtual_service(base)
        elif kind == "Gateway":
            self._add_gateway(base)
        elif self._with_destination_rules:
            self._add_destination_rule(base)

    def _add_service(self, manifest: Any) -> None:
        if not isinstance(manifest, dict) or (manifest.get("apiVersion"), manifest.get("kind")) != ("v1", "Service"):
            return
        selector = spec(manifest).get("selector")
        if isinstance(selector, dict):
            self._selectors.setdefault(f"{meta(manifest, 'namespace')}/{meta(manifest, 'name')}", selector)

    def _add_service_entry(self, entry: Obj) -> None:
        external = is_external_service_entry(entry.manifest)
        if external:
            self.service_entries.append(entry)
        for _, raw in strings(entry.body.get("hosts")):
            host = host_key(raw)
            self._entry_namespaces.setdefault(host, {})[entry.namespace] = None
            first = (entry.order, entry.namespace)
            if "*" in entry.scope:
                self._entry_public.setdefault(host, first)
            else:
                for client in entry.scope:
                    self._entry_for.setdefault((host, client), first)
            if external:
                self._external.setdefault(host, []).append(entry)

    def _add_virtual_service(self, base: dict[str, Any]) -> None:
        manifest, namespace, body = base["manifest"], base["namespace"], base["body"]
        bound = tuple(bound_gateways(manifest))
        hosts = tuple(dict.fromkeys(host_key(h, namespace) for _, h in strings(body.get("hosts"))))
        vs = VirtualService(**base, hosts=hosts, bound=bound,
                            rules=tuple(_route_rules(manifest, namespace, body, bound)))
        self.virtual_services.append(vs)
        for host in hosts:
            self._vs_by_host.setdefault(host, []).append(vs)

    def _add_gateway(self, base: dict[str, Any]) -> None:
        body = base["body"]
        selector = body.get("selector")
        served: dict[str, set[str]] = {}
        for _, server in dicts(body.get("servers")):
            for _, entry in strings(server.get("hosts")):
                part, _, pattern = entry.rpartition("/")
                served.setdefault(host_key(pattern), set()).add(part or "*")
        gateway = Gateway(**base, selector=selector if isinstance(selector, dict) else {}, served=served)
        if gateway.ref in self.gateways:
            return  # a duplicate name: the cluster would hold one of them, and we cannot tell which
        self.gateways[gateway.ref] = gateway
        for pattern in served:
            self._gw_by_host.setdefault(pattern, []).append(gateway)

    def _add_destination_rule(self, base: dict[str, Any]) -> None:
        manifest, namespace, body = base["manifest"], base["namespace"], base["body"]
        raw_host = body.get("host")
        if not isinstance(raw_host, str) or not raw_host:
            return
        subsets = tuple((i, s["name"]) for i, s in dicts(body.get("subsets")) if isinstance(s.get("name"), str))
        rule = DestinationRule(**base, host=host_key(raw_host, namespace), raw_export=frozenset(export_to(manifest)),
                               selected=body.get("workloadSelector") is not None, subsets=subsets)
        self.destination_rules.append(rule)
        for name in dict.fromkeys(name for _, name in subsets):
            self._dr_by_subset.setdefault((rule.host, name), []).append(rule)
        if rule.selected:
            return
        self._dr_namespaces.setdefault(rule.host, set()).add(namespace)
        key = (namespace, rule.host)
        # The three pools of istiod's setDestinationRules.
        if rule.namespace_local:
            self._local.setdefault(key, []).append(rule)
        if not rule.private:
            self._exported.setdefault(key, []).append(rule)
            if not rule.raw_export or "*" in rule.raw_export:
                self._exported_public.setdefault(key, []).append(rule)
            else:
                for client in rule.raw_export:
                    self._exported_for.setdefault((namespace, rule.host, client), []).append(rule)
        elif namespace == self.root:
            self._root_local.setdefault(key, []).append(rule)

    # -- looking up -----------------------------------------------------------------------------

    def is_external(self, host: str) -> bool:
        """Whether a MESH_EXTERNAL ServiceEntry host covers ``host``."""
        return any(p in self._external for p in covering_patterns(host))

    def virtual_services_for(self, host: str) -> list[VirtualService]:
        """VirtualServices with a host that covers ``host``, in stack order."""
        if host not in self._vs_for:
            self._vs_for[host] = _ordered(vs for p in covering_patterns(host) for vs in self._vs_by_host.get(p, ()))
        return self._vs_for[host]

    def gateways_serving(self, host: str) -> list[Gateway]:
        """Gateways with a server for a pattern that covers ``host``, in stack order."""
        if host not in self._gw_for:
            self._gw_for[host] = _ordered(gw for p in covering_patterns(host) for gw in self._gw_by_host.get(p, ()))
        return self._gw_for[host]

    def service_selector(self, host: str) -> dict[str, Any] | None:
        """``spec.selector`` of the Kubernetes Service behind a ``*.svc.*`` host, if the stack has it."""
        namespace = service_namespace(host)
        return None if namespace is None else self._selectors.get(f"{namespace}/{host.split('.', 1)[0]}")

    def service_namespaces(self, host: str) -> list[str]:
        """The namespaces of the Service behind ``host``: from a ``*.svc.*`` name, else of the
        ServiceEntries declaring it."""
        namespace = service_namespace(host)
        return [namespace] if namespace is not None else list(self._entry_namespaces.get(host, ()))

    def is_service_namespace(self, host: str, namespace: str) -> bool:
        return namespace == service_namespace(host) or namespace in self._entry_namespaces.get(host, ())

    def service_namespace_for(self, host: str, client: str) -> str | None:
        """The namespace of the Service a proxy in ``client`` sees for ``host``: for a ServiceEntry
        host, the first ServiceEntry declaring it that is exported there."""
        namespace = service_namespace(host)
        if namespace is not None:
            return namespace
        seen = [first for first in (self._entry_public.get(host), self._entry_for.get((host, client))) if first]
        return min(seen)[1] if seen else None

    def destination_rules_defining(self, host: str, subset: str) -> list[DestinationRule]:
        return self._dr_by_subset.get((host, subset), [])

    def has_destination_rule(self, host: str, namespace: str) -> bool:
        """Whether ``namespace`` holds a DestinationRule (without workloadSelector) covering ``host``."""
        return any(namespace in self._dr_namespaces.get(p, ()) for p in covering_patterns(host))

    def destination_rule_namespaces(self, host: str) -> set[str]:
        """Namespaces holding a DestinationRule (without workloadSelector) whose host covers ``host``."""
        return {ns for p in covering_patterns(host) for ns in self._dr_namespaces.get(p, ())}

    def destination_rules_for(self, client: str, host: str) -> list[DestinationRule]:
        """The merged DestinationRules a proxy in namespace ``client`` applies to ``host``: istiod's
        lookup order, most specific host first; empty when none is visible."""
        key = (client, host)
        if key not in self._lookups:
            self._lookups[key] = self._lookup(client, host)
        return self._lookups[key]

    def subset_rules(self, client: str, host: str) -> dict[str, list[DestinationRule]]:
        """Subset name -> the rules of ``destination_rules_for(client, host)`` defining it. Many
        routes share one gateway Service host, so scanning those rules per route is quadratic."""
        key = (client, host)
        if key not in self._subsets_in:
            index: dict[str, list[DestinationRule]] = {}
            for rule in self.destination_rules_for(client, host):
                for name in dict.fromkeys(name for _, name in rule.subsets):
                    index.setdefault(name, []).append(rule)
            self._subsets_in[key] = index
        return self._subsets_in[key]

    def subset_coverage(self, host: str) -> tuple[list[str], dict[str, set[str]]]:
        """The namespaces holding a DestinationRule for ``host`` (sorted) and, per subset, those of
        them whose lookup defines it: enough to judge a route exported to every namespace without
        walking all namespaces for each route."""
        if host not in self._coverage:
            namespaces = sorted(self.destination_rule_namespaces(host))
            defined: dict[str, set[str]] = {}
            for namespace in namespaces:
                for rule in self.destination_rules_for(namespace, host):
                    for _, name in rule.subsets:
                        defined.setdefault(name, set()).add(namespace)
            self._coverage[host] = (namespaces, defined)
        return self._coverage[host]

    def _lookup(self, client: str, host: str) -> list[DestinationRule]:
        local = self._local if client != self.root else self._root_local
        found = _most_specific(local, client, host)
        if found:
            return _merged_in_use(found)
        home = self.service_namespace_for(host, client)
        for namespace in dict.fromkeys([home, self.root] if home is not None else [self.root]):
            pattern = _most_specific_pattern(self._exported, namespace, host)
            if pattern is not None:
                # Only the most specific match counts; if it is not exported here, istiod moves on.
                found = [*self._exported_public.get((namespace, pattern), ()),
                         *self._exported_for.get((namespace, pattern, client), ())]
                if found:
                    return _merged_in_use(sorted(found, key=lambda rule: rule.order))
        return []

    def reach(self, rule: DestinationRule) -> frozenset[str]:
        """The client namespaces whose lookup can find ``rule`` for its own host (``{"*"}``: all),
        ignoring shadowing by other rules."""
        if rule.selected:
            return frozenset({rule.namespace})
        reach = {rule.namespace} if rule.namespace_local and rule.namespace != self.root else set()
        if rule.private:
            return frozenset(reach | ({self.root} if rule.namespace == self.root else set()))
        if rule.namespace == self.root or self.is_service_namespace(rule.host, rule.namespace):
            if not rule.raw_export or "*" in rule.raw_export:
                return frozenset({"*"})
            reach |= rule.raw_export - {"."}
        return frozenset(reach)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Run without the cyclic garbage collector. Indexing allocates a few containers per object, and
    each time enough of them survive, CPython walks every live container - the whole stack - again:
    over half the time for 10,000 objects. The index makes no reference cycles, so reference counting
    frees it all; the collector's state is restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _items(manifests: Any) -> list[Any]:
    if isinstance(manifests, (str, bytes, Mapping)) or not isinstance(manifests, Iterable):
        return []
    return list(manifests)


def _route_rules(manifest: Manifest, namespace: str, body: dict[str, Any],
                 bound: tuple[str, ...]) -> Iterator[RouteRule]:
    everywhere = frozenset(bound)
    for section in ROUTE_SECTIONS:
        for i, rule in dicts(body.get(section)):
            path = f"spec.{section}[{i}]"
            matches = []
            for j, match in dicts(rule.get("match")):
                names = [gateway_ref(manifest, g) for _, g in strings(match.get("gateways"))]
                sni = tuple(strings(match.get("sniHosts"))) if section == "tls" else ()
                matches.append(Match(f"{path}.match[{j}]", frozenset(names) if names else everywhere, sni or None,
                                     port_number(match.get("port"))))
            if not matches:
                matches.append(Match(path, everywhere, None))
            destinations = []
            for k, route in dicts(rule.get("route")):
                destination = route.get("destination")
                host = destination.get("host") if isinstance(destination, dict) else None
                if isinstance(destination, dict) and isinstance(host, str) and host:
                    subset = destination.get("subset")
                    destinations.append(Destination(f"{path}.route[{k}].destination", host_key(host, namespace),
                                                    subset if isinstance(subset, str) and subset else None))
            yield RouteRule(path, section, tuple(matches), tuple(destinations))


def _most_specific(index: dict[tuple[str, str], list[DestinationRule]], namespace: str,
                   host: str) -> list[DestinationRule]:
    pattern = _most_specific_pattern(index, namespace, host)
    return index[(namespace, pattern)] if pattern is not None else []


def _most_specific_pattern(index: dict[tuple[str, str], list[DestinationRule]], namespace: str,
                           host: str) -> str | None:
    for pattern in covering_patterns(host):
        if index.get((namespace, pattern)):
            return pattern
    return None


def _merged_in_use(found: list[DestinationRule]) -> list[DestinationRule]:
    """The merged rule a proxy uses among ``found`` (creation order). istiod merges rules with the
    same exportTo into one consolidated rule, kept in order of each group's first rule
    (``mergeDestinationRule``, pilot/pkg/model/destination_rule.go), and a proxy takes the *last*
    consolidated rule without a workloadSelector (``SidecarScope.DestinationRule``,
    pilot/pkg/model/sidecar.go): a later rule with another exportTo replaces ours entirely."""
    groups: dict[frozenset[str], list[DestinationRule]] = {}
    for rule in found:
        groups.setdefault(rule.raw_export, []).append(rule)
    return list(groups.values())[-1]


def _ordered(objects: Iterable[_O]) -> list[_O]:
    unique = {id(o): o for o in objects}
    return sorted(unique.values(), key=lambda o: o.order)


# --- reporting -----------------------------------------------------------------------------------


class Report:
    """Findings in the order found, each (object, path, message) once."""

    def __init__(self) -> None:
        self.items: list[tuple[Manifest, Finding]] = []
        self._seen: set[tuple[int, str, str]] = set()

    def add(self, obj: Obj, path: str, value: Any, message: str, fix: str) -> None:
        key = (id(obj.manifest), path, message)
        if key not in self._seen:
            self._seen.add(key)
            self.items.append((obj.manifest, Finding(path, value, message, fix)))


def listing(items: Sequence[str], total: int | None = None, limit: int = LIST_LIMIT) -> str:
    """``a, b, c and 4 more``: bounded, so a message never grows with the stack. ``total`` counts
    the items when ``items`` holds only the first of them."""
    total = len(items) if total is None else total
    shown = ", ".join(ANY_TEXT if item == ANY_NAMESPACE else item for item in items[:limit])
    return shown + (f" and {total - min(len(items), limit)} more" if total > min(len(items), limit) else "")


def refs(objects: Sequence[Obj]) -> str:
    """``listing`` of objects' ``namespace/name``, reading only the first few."""
    return listing([o.ref for o in objects[:LIST_LIMIT]], len(objects))


def root_namespace(config: Config) -> str:
    value = config.get("rootNamespace") if isinstance(config, Mapping) else None
    return value if isinstance(value, str) and value else ROOT_NAMESPACE


ROOT_NAMESPACE_SCHEMA: dict[str, dict[str, Any]] = {"rootNamespace": {
    "type": "string", "default": ROOT_NAMESPACE,
    "description": "Istio's root configuration namespace (meshConfig.rootNamespace)",
}}


# --- the rule ------------------------------------------------------------------------------------


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
    _collisions(stack, report)
    return report.items


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
)
