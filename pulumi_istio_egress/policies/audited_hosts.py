"""audited-hosts-require-simple: for audited hosts the gateway must see HTTP, not pass TLS through.

Ambient: the waypoint is the gateway. It interprets a ServiceEntry's HTTP port (and originates TLS
to the host when a DestinationRule for it says SIMPLE/MUTUAL: the DestinationRule branch below), but
a TLS port is proxied by SNI on a TCP chain without termination: the waypoint has no server
credential (``buildWaypointInternal`` in pilot/pkg/networking/core/listener_waypoint.go). So a
ServiceEntry for an audited host bound to a waypoint by its own ``istio.io/use-waypoint`` label is
reported for each port that is not HTTP. A binding inherited from the Namespace's label is not
visible to a resource rule: such an entry is not judged (its DestinationRule still is).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .gateway_api_findings import audited_findings
from .objects import (
    HTTP_PROTOCOLS,
    MESH,
    ORIGINATING,
    PASSING_THROUGH,
    destination_rule_tls,
    dicts,
    gateway_server_hosts,
    host_matches,
    kind_of,
    spec,
    string_list,
    strings,
)
from .rule import Config, ResourceRule
from .waypoints import own_waypoint

FIX_GATEWAY = ("let the gateway interpret TLS: EgressRoute tls_mode SIMPLE (origination), or a SIMPLE server "
               "with a credentialName to terminate")


def _audited(host: str, audited: list[str]) -> bool:
    return any(host_matches(pattern, host) or host_matches(host, pattern) for pattern in audited)


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    audited = string_list(config, "auditedHosts")
    if not audited:
        return
    kind, body = kind_of(manifest), spec(manifest)
    yield from audited_findings(manifest, audited)  # a Gateway API Gateway: routing_gateway_api
    if kind == "Gateway":
        for i, server in dicts(body.get("servers")):
            mode = server.get("tls", {}).get("mode") if isinstance(server.get("tls"), dict) else None
            hosts = [h for _, h in gateway_server_hosts(server) if _audited(h, audited)]
            if mode in PASSING_THROUGH and hosts:
                yield Finding(f"spec.servers[{i}].tls.mode", mode,
                              f"the gateway passes TLS for audited host {hosts[0]} through uninspected", FIX_GATEWAY)
    elif kind == "VirtualService":
        vs_gateways = [g for _, g in strings(body.get("gateways"))] or [MESH]
        vs_hosts = [h for _, h in strings(body.get("hosts"))]
        for i, rule in dicts(body.get("tls")):
            for j, match in dicts(rule.get("match")):
                bound = [g for _, g in strings(match.get("gateways"))] or vs_gateways
                sni = [h for _, h in strings(match.get("sniHosts"))] or vs_hosts
                hosts = [h for h in sni if _audited(h, audited)]
                if hosts and any(g != MESH for g in bound):
                    yield Finding(f"spec.tls[{i}].match[{j}]", None,
                                  f"a gateway routes audited host {hosts[0]} by SNI, passing its TLS through",
                                  "route it with an http route after the gateway originates or terminates TLS "
                                  "(EgressRoute tls_mode SIMPLE)")
    elif kind == "ServiceEntry":
        yield from _waypoint_ports(manifest, audited)
    elif kind == "DestinationRule":
        host = body.get("host")
        if not isinstance(host, str) or not _audited(host, audited):
            return
        settings = list(destination_rule_tls(manifest))
        # A rule without TLS exported only to its own namespace tunes that namespace's sidecars (e.g.
        # connection pooling in a client namespace); the gateway reads the DestinationRule of its own
        # namespace or the host's, so this one cannot turn origination off.
        local = [e for _, e in strings(body.get("exportTo"))] == ["."]
        if not settings and not local:
            yield Finding("spec.trafficPolicy.tls", None,
                          f"the DestinationRule for audited host {host} does not originate TLS",
                          "set tls.mode SIMPLE (or MUTUAL) for the port the gateway uses")
        for path, tls in settings:
            mode = tls.get("mode")
            if mode not in ORIGINATING:
                yield Finding(f"{path}.mode", mode,
                              f"the DestinationRule for audited host {host} must originate TLS",
                              "set tls.mode SIMPLE (or MUTUAL with a credentialName)")


def _waypoint_ports(manifest: Manifest, audited: list[str]) -> Iterator[Finding]:
    waypoint = own_waypoint(manifest)
    hosts = [h for _, h in strings(spec(manifest).get("hosts")) if _audited(h, audited)]
    if waypoint is None or not hosts:
        return
    for i, port in dicts(spec(manifest).get("ports")):
        protocol = str(port.get("protocol", "")).upper()
        if protocol not in HTTP_PROTOCOLS:
            yield Finding(f"spec.ports[{i}].protocol", port.get("protocol"),
                          f"the waypoint {waypoint} passes {protocol or 'undeclared'} traffic for audited host "
                          f"{hosts[0]} through uninspected: it proxies it without terminating TLS",
                          "serve the host on an HTTP port with targetPort set to its TLS port and originate TLS at "
                          "the waypoint with a DestinationRule (EgressRoute dataplane AMBIENT, tls_mode SIMPLE)")


RULE = ResourceRule(
    name="audited-hosts-require-simple",
    description="Audited hosts go through a gateway that interprets TLS (SIMPLE/MUTUAL), never PASSTHROUGH.",
    severity="high",
    enforcement="mandatory",
    check=check,
    config_schema={"auditedHosts": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Host patterns whose egress must be visible as HTTP, e.g. api.stripe.com, *.bank.example",
    }},
)
