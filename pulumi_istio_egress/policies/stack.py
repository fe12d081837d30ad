"""The stack read model: every Istio object a stack rule looks at, indexed once.

Objects are read once (:mod:`.stack_objects`) and looked up by ``namespace/name`` and by host
pattern, so a rule's work grows with the number of objects, never with their pairs. Visibility
follows istiod: exportTo (``objects.exported_to``) and the DestinationRule lookup of
``PushContext.destinationRule`` / ``SidecarScope.DestinationRule``. Also what every stack rule
shares around the index: :class:`Report`, the root-namespace config and :func:`gc_paused`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from ..findings import Finding, Manifest
from .objects import (
    EGRESS_KINDS,
    bound_gateways,
    covering_patterns,
    dicts,
    export_to,
    exported_to,
    host_key,
    is_external_service_entry,
    meta,
    networking_kind,
    service_namespace,
    spec,
    strings,
)
from .rule import Config
from .stack_objects import (
    ANY_NAMESPACE,
    ANY_TEXT,
    LIST_LIMIT,
    ROUTE_SECTIONS,
    Destination,
    DestinationRule,
    Gateway,
    Match,
    Obj,
    RouteRule,
    VirtualService,
    listing,
    refs,
    route_rules,
)

__all__ = [
    "ANY_NAMESPACE", "ANY_TEXT", "LIST_LIMIT", "ROOT_NAMESPACE", "ROOT_NAMESPACE_SCHEMA", "ROUTE_SECTIONS",
    "Destination", "DestinationRule", "Gateway", "Match", "Obj", "Report", "RouteRule", "Stack", "VirtualService",
    "gc_paused", "listing", "refs", "root_namespace",
]

ROOT_NAMESPACE = "istio-system"

_O = TypeVar("_O", bound=Obj)


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
                            rules=tuple(route_rules(manifest, namespace, body, bound)))
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



def root_namespace(config: Config) -> str:
    value = config.get("rootNamespace") if isinstance(config, Mapping) else None
    return value if isinstance(value, str) and value else ROOT_NAMESPACE


ROOT_NAMESPACE_SCHEMA: dict[str, dict[str, Any]] = {"rootNamespace": {
    "type": "string", "default": ROOT_NAMESPACE,
    "description": "Istio's root configuration namespace (meshConfig.rootNamespace)",
}}
