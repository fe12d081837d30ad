"""Ports on the egress gateway: whether a route's port is one a Gateway serves the host on.

Two places a port decides whether the gateway takes the traffic (sidecar flavour, networking.istio.io
Gateways), each read by ``egress-references-resolve`` (a finding on the VirtualService, at the port)
and by :mod:`.routing` (a ``gateway-port`` break, so ``diagram`` does not draw the path):

- **mesh leg**: a mesh route to the egress gateway Service names ``destination.port``. The gateway
  has listeners only for its servers' ports (``buildGatewayListeners``,
  pilot/pkg/networking/core/gateway.go) and picks the server by host on that port, so the port must
  be one where a Gateway serving the host has a server for it.
- **gateway leg**: a gateway-bound match with ``port``. On a gateway a route is built per server,
  and a match whose port is not the server's is dropped (``translateRoute``,
  pilot/pkg/networking/core/route/route.go). A rule none of whose matches for that Gateway takes a
  port the Gateway serves the host on never applies there: no route for the host (404 NR).

A destination or match without a port is not judged here (Istio takes the Service's only port or
the server's). Server ports are ``port.number`` as written (the gateway Service's port).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .objects import dicts, gateway_server_hosts, host_matches, port_number, sub
from .stack_objects import Gateway, VirtualService, listing

MismatchKind = Literal["mesh-leg-port", "gateway-match-port"]


@dataclass(frozen=True)
class PortMismatch:
    """A route's port that no server for the host is on."""

    kind: MismatchKind
    vs: VirtualService
    path: str
    """The port's path in the VirtualService."""
    port: int
    gateways: tuple[Gateway, ...]
    served: tuple[int, ...]
    """The ports those Gateways serve the host on."""
    host: str
    client_ports: frozenset[int] | None
    """For a mesh leg: the client ports its route takes (None: every port); for a gateway match,
    None: the gateway has no route for the host from any client port."""
    service: str = ""
    """For a mesh leg: the egress gateway Service it is sent to."""


def served_ports(gateways: Iterable[Gateway], host: str) -> tuple[int, ...]:
    """The port numbers of the servers of ``gateways`` whose hosts cover ``host``, sorted."""
    ports: set[int] = set()
    for gateway in gateways:
        for _, server in dicts(gateway.body.get("servers")):
            number = port_number(sub(server, "port", "number"))
            if number is not None and any(host_matches(p, host) for _, p in gateway_server_hosts(server)):
                ports.add(number)
    return tuple(sorted(ports))


MeshLeg = tuple[VirtualService, str, str, int | None, frozenset[int] | None]
"""(VirtualService, destination path, destination host, destination port, client ports)."""


def mesh_leg_mismatches(host: str, routes: Iterable[MeshLeg], gateways: tuple[Gateway, ...]) -> list[PortMismatch]:
    """Mesh routes to the gateway whose port no Gateway serving ``host`` has a server for it on."""
    served = served_ports(gateways, host)
    if not served:
        return []  # no server for the host at all: egress-via-gateway's no-gateway
    return [PortMismatch("mesh-leg-port", vs, f"{path}.port.number", port, gateways, served, host, ports, service)
            for vs, path, service, port, ports in routes if port is not None and port not in served]


def gateway_match_mismatches(host: str, legs: Iterable[tuple[VirtualService, Gateway]]) -> list[PortMismatch]:
    """Gateway-bound rules for ``host`` that never apply at their Gateway: each of their matches for it
    names a port the Gateway does not serve the host on."""
    found: list[PortMismatch] = []
    for vs, gateway in legs:
        served = served_ports([gateway], host)
        if not served:
            continue
        for rule in vs.rules:
            matches = [m for m in rule.matches if gateway.ref in m.gateways and (
                m.sni is None or any(host_matches(s, host) for _, s in m.sni))]
            if not matches or any(m.port is None or m.port in served for m in matches):
                continue
            found += [PortMismatch("gateway-match-port", vs, f"{m.path}.port", m.port, (gateway,), served, host,
                                   None) for m in matches if m.port is not None]
    return found


def message(mismatch: PortMismatch) -> tuple[str, str]:
    """(message, fix) of ``egress-references-resolve``'s finding."""
    refs = listing([g.ref for g in mismatch.gateways])
    one = len(mismatch.served) == 1
    on = listing([str(p) for p in mismatch.served])
    host = mismatch.host
    if mismatch.kind == "mesh-leg-port":
        return (f"port {mismatch.port} of {mismatch.service} is not a port Gateway {refs} serves {host} on (its "
                f"{'server for it is' if one else 'servers for it are'} on {on}), so the gateway has no listener or "
                "server for this route's traffic",
                f"send the mesh leg to port {on}, the port of the Gateway's server for {host}" if one else
                f"send the mesh leg to one of ports {on}, the ports of the Gateway's servers for {host}")
    return (f"this route is bound to Gateway {refs} on port {mismatch.port}, but the Gateway serves {host} on {on} "
            "only: a gateway's routes match its server's port, so this one never matches (404 NR)",
            (f"match port {on}, the port of the Gateway's server for {host}" if one else
             f"match one of ports {on}, the ports of the Gateway's servers for {host}") + ", or leave the port out of "
            "the match")
