"""VirtualService (networking.istio.io): istiod's ``ValidateVirtualService``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..names import MESH
from ._headers import is_jwt_claim
from ._http import check_http_route, check_route_destinations
from ._syntax import (
    MAX_DOMAIN,
    PORT_FIX,
    check_export_to,
    check_gateway_names,
    check_labels,
    ip_subnet_problem,
    is_ip,
    port_problem,
    wildcard_domain_problem,
)
from ._walk import Report, at, empty_list, golist, is_array, nonempty, q, sub

_SEMANTICS = "internal.istio.io/route-semantics"
_OUTBOUND = "outbound_"
_MAX_PAIR_FINDINGS = 100  # pairwise host checks stop reporting here; a huge list must not blow up


def check_virtual_service(r: Report, spec: Mapping[str, Any]) -> None:
    hosts = r.strs(spec, "hosts", "spec")
    gateways = r.strs(spec, "gateways", "spec")
    http = r.objs(spec, "http", "spec")
    tls = r.objs(spec, "tls", "spec")
    tcp = r.objs(spec, "tcp", "spec")
    delegate = empty_list(spec, "hosts")
    if delegate:
        # A VirtualService without hosts can only be the target of another one's `delegate`.
        for field, items, what in (
            ("gateways", gateways, "gateways specified"),
            ("tls", tls, "tls route specified"),
            ("tcp", tcp, "tcp route specified"),
        ):
            if items:
                r.add(
                    sub("spec", field),
                    spec.get(field),
                    f"delegate virtual service must have no {what}",
                    f"Remove {field} (a VirtualService without hosts is a delegate), or add hosts",
                )
    gateway_semantics = r.annotations.get(_SEMANTICS) == "gateway"
    names = [g for _, g in gateways]
    if names:
        check_gateway_names(r, gateways, "spec.gateways", gateway_semantics=gateway_semantics)
    bound_to_gateway = bool(names) and MESH not in names
    sni_routing = _has_sni_hosts(tls)

    if not bound_to_gateway:
        for i, route in http:
            for j, match in r.objs(route, "match", at("spec.http", i)):
                where = at(sub(at("spec.http", i), "match"), j)
                for field in ("headers", "withoutHeaders"):
                    headers = r.obj(match, field, where)
                    for key in headers or {}:
                        if is_jwt_claim(str(key)):
                            r.add(
                                sub(sub(where, field), str(key)),
                                key,
                                f"JWT claim based routing (key: {key}) is only supported for gateway, found no "
                                f"gateways: {golist(names)}",
                                "Bind the VirtualService to an ingress Gateway, or match on a plain header",
                            )

    all_valid = True
    for i, host in hosts:
        problem = _gateway_domain_problem(host, sni=sni_routing) if bound_to_gateway else wildcard_domain_problem(host)
        if problem is not None:
            if not is_ip(host):
                r.add(at("spec.hosts", i), host, problem, "Use a DNS name (optionally '*.'-prefixed) or an IP")
                all_valid = False
        elif not bound_to_gateway and host == "*":
            r.add(
                at("spec.hosts", i),
                host,
                "wildcard host * is not allowed for virtual services bound to the mesh gateway",
                "Name the hosts, or bind the VirtualService only to Gateways",
            )
            all_valid = False
    if all_valid:
        _check_duplicate_hosts(r, hosts)

    if all(empty_list(spec, f) for f in ("http", "tcp", "tls")):
        r.add("spec", None, "http, tcp or tls must be provided in virtual service", "Add http, tls or tcp routes")
    for i, route in http:
        if route is None:
            r.add(at("spec.http", i), None, "http route may not be null", "Remove the empty http entry")
            continue
        check_http_route(r, route, at("spec.http", i), delegate=delegate, gateway_semantics=gateway_semantics)
    cover = _HostCover(hosts)
    for i, route in tls:
        if route is not None:
            _check_tls_route(r, route, at("spec.tls", i), hosts, cover, names, gateway_semantics)
    for i, route in tcp:
        if route is not None:
            _check_tcp_route(r, route, at("spec.tcp", i), gateway_semantics)
    check_export_to(r, spec, "spec")


def _has_sni_hosts(tls: list[tuple[int, Mapping[str, Any] | None]]) -> bool:
    for _, route in tls:
        matches = route.get("match") if route else None
        for match in matches if matches is not None and is_array(matches) else ():
            if nonempty(match, "sniHosts"):
                return True
    return False


def _gateway_domain_problem(host: str, *, sni: bool) -> str | None:
    """Gateway-bound hosts may also be AUTO_PASSTHROUGH's generated ``outbound_.<port>_._.<host>`` names."""
    if not host or len(host) > MAX_DOMAIN:
        return wildcard_domain_problem(host)
    if sni and host.startswith(_OUTBOUND):
        parts = host.split("_")
        if len(parts) < 4:
            return f"domain name {host} invalid, should follow 'outbound_.<PORT>_._.<HOSTNAME>' format"
        port, name = parts[1].strip("."), parts[3].strip(".")
        if not any(c in "0123456789" for c in port):
            return (
                f"domain name {q(host)} invalid (label {q(port)} invalid). should follow "
                "outbound_.<PORT>_._.<HOSTNAME> format"
            )
        if not any(c.isascii() and c.isalpha() for c in name):
            return (
                f"domain name {q(host)} invalid (label {q(name)} invalid). should follow "
                "outbound_.<PORT>_._.<HOSTNAME> format"
            )
        return None
    return wildcard_domain_problem(host)


def _suffixes(text: str) -> list[str]:
    return [text[k:] for k in range(len(text) + 1)]


def _check_duplicate_hosts(r: Report, hosts: list[tuple[int, str]]) -> None:
    """Hosts that overlap (equal, or a wildcard covering the other), reported per pair as istiod does.

    istiod compares every pair; an index on wildcard suffixes finds the same pairs without the
    quadratic cost, so a huge host list cannot stall a preview.
    """
    exact: dict[str, list[int]] = {}
    tails: dict[str, list[int]] = {}  # wildcard host minus its leading '*'
    for k, (_, host) in enumerate(hosts):
        (tails.setdefault(host[1:], []) if host.startswith("*") else exact.setdefault(host, [])).append(k)
    pairs: set[tuple[int, int]] = set()
    for k, (_, host) in enumerate(hosts):
        own = host[1:] if host.startswith("*") else host
        candidates = [] if host.startswith("*") else list(exact.get(host, ()))
        for suffix in _suffixes(own):
            candidates.extend(tails.get(suffix, ()))
        for other in candidates:
            if other != k:
                pairs.add((min(k, other), max(k, other)))
        if len(pairs) >= _MAX_PAIR_FINDINGS:
            break
    for a, b in sorted(pairs)[:_MAX_PAIR_FINDINGS]:
        (i, first), (j, second) = hosts[a], hosts[b]
        r.add(
            at("spec.hosts", j),
            second,
            f"duplicate hosts in virtual service: {first} & {second}",
            f"Remove one of the overlapping hosts (it overlaps spec.hosts[{i}])",
        )


class _HostCover:
    """Answers istiod's "is this SNI host a subset of one of the VirtualService hosts" quickly."""

    def __init__(self, hosts: list[tuple[int, str]]) -> None:
        self.exact = {h for _, h in hosts if not h.startswith("*")}
        self.tails = {h[1:] for _, h in hosts if h.startswith("*")}

    def covers(self, name: str) -> bool:
        if not name.startswith("*") and name in self.exact:
            return True
        own = name[1:] if name.startswith("*") else name
        return any(suffix in self.tails for suffix in _suffixes(own))


def _check_tls_route(
    r: Report,
    route: Mapping[str, Any],
    path: str,
    hosts: list[tuple[int, str]],
    cover: _HostCover,
    gateways: list[str],
    gateway_semantics: bool,
) -> None:
    matches = r.objs(route, "match", path)
    r.require_items(
        route,
        "match",
        path,
        "TLS route must have at least one match condition",
        "Add match: [{sniHosts: [<host>]}] (TLS routes select traffic by SNI)",
    )
    for i, match in matches:
        where = at(sub(path, "match"), i)
        if match is None:
            r.add(where, None, "TLS match may not be null", "Remove the empty match entry")
            continue
        sni = r.strs(match, "sniHosts", where)
        r.require_items(
            match,
            "sniHosts",
            where,
            "TLS match must have at least one SNI host",
            "Add sniHosts with the host names clients send in TLS SNI",
        )
        for j, name in sni:
            _check_sni_host(r, name, at(sub(where, "sniHosts"), j), hosts, cover, gateways)
        _check_l4_match(r, match, where)
    r.require_items(route, "route", path, "TLS route is required", "Add route: [{destination: {host: <host>}}]")
    check_route_destinations(r, route, path, gateway_semantics)


def _check_sni_host(
    r: Report, name: str, path: str, hosts: list[tuple[int, str]], cover: _HostCover, gateways: list[str]
) -> None:
    # istiod treats a VirtualService without gateways as gateway-bound here (unlike for `hosts`).
    problem = _gateway_domain_problem(name, sni=True) if MESH not in gateways else wildcard_domain_problem(name)
    if problem is not None:
        if not is_ip(name):  # an IP SNI only draws a warning
            r.add(path, name, problem, "Use the DNS name the client sends in SNI")
        return
    if not cover.covers(name):
        r.add(
            path,
            name,
            f"SNI host {q(name)} is not a compatible subset of any of the virtual service hosts: "
            f"[{', '.join(h for _, h in hosts)}]",
            "Use an SNI host equal to, or covered by a wildcard in, the VirtualService hosts",
        )


def _check_l4_match(r: Report, match: Mapping[str, Any], path: str) -> None:
    """The parts of tls and tcp matches istiod checks: subnets, port, source labels, gateways."""
    for i, subnet in r.strs(match, "destinationSubnets", path):
        problem = ip_subnet_problem(subnet)
        if problem is not None:
            r.add(
                at(sub(path, "destinationSubnets"), i),
                subnet,
                problem,
                "Use an IP address or a CIDR block such as 10.0.0.0/8",
            )
    port = r.integer(match, "port", path) or 0
    if port != 0 and port_problem(port):
        r.add(sub(path, "port"), port, str(port_problem(port)), PORT_FIX)
    check_labels(r, match, "sourceLabels", path)
    check_gateway_names(r, r.strs(match, "gateways", path), sub(path, "gateways"))


def _check_tcp_route(r: Report, route: Mapping[str, Any], path: str, gateway_semantics: bool) -> None:
    for where, match in r.entries(route, "match", path, "tcp match may not be nil", "Remove the empty match entry"):
        _check_l4_match(r, match, where)
    r.require_items(route, "route", path, "TCP route is required", "Add route: [{destination: {host: <host>}}]")
    check_route_destinations(r, route, path, gateway_semantics)
