"""The typed objects of the stack read model: each Istio object a stack rule reads, parsed once.

:class:`~.stack.Stack` builds these; rules and :mod:`.routing` read them. Also the bounded
``listing`` every stack-rule message uses, so a message never grows with the stack.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..findings import Manifest
from .objects import covering_patterns, dicts, gateway_ref, host_key, host_matches, port_number, strings, sub

ANY_NAMESPACE = "*"
"""A client namespace standing for every namespace without DestinationRules of its own."""
ROUTE_SECTIONS = ("http", "tls", "tcp")
LIST_LIMIT = 5
ANY_TEXT = "every other namespace"


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




class Destination(NamedTuple):
    path: str
    """``spec.tls[0].route[1].destination``"""
    host: str
    """The host key, short names resolved in the VirtualService's namespace."""
    subset: str | None
    port: int | None = None
    """``destination.port.number``; None when unset."""


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


def route_rules(manifest: Manifest, namespace: str, body: dict[str, Any],
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
                                                    subset if isinstance(subset, str) and subset else None,
                                                    port_number(sub(destination, "port", "number"))))
            yield RouteRule(path, section, tuple(matches), tuple(destinations))



def listing(items: Sequence[str], total: int | None = None, limit: int = LIST_LIMIT) -> str:
    """``a, b, c and 4 more``: bounded, so a message never grows with the stack. ``total`` counts
    the items when ``items`` holds only the first of them."""
    total = len(items) if total is None else total
    shown = ", ".join(ANY_TEXT if item == ANY_NAMESPACE else item for item in items[:limit])
    return shown + (f" and {total - min(len(items), limit)} more" if total > min(len(items), limit) else "")


def refs(objects: Sequence[Obj]) -> str:
    """``listing`` of objects' ``namespace/name``, reading only the first few."""
    return listing([o.ref for o in objects[:LIST_LIMIT]], len(objects))

