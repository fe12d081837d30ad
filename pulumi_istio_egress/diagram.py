"""Mermaid flowcharts of each egress route's traffic path, read from the manifests themselves.

Works on any objects (ours or hand-written): a route is a VirtualService bound to ``mesh`` whose
mesh route leads to a gateway Service and whose gateway route leads to the external host; in
ambient mode, a ServiceEntry bound to a waypoint (``istio.io/use-waypoint``, its own or its
Namespace's), which ztunnel sends its traffic to.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .findings import Manifest
from .policies.objects import MESH, destination_rule_tls, dicts, gateway_server_hosts, kind_of, meta, spec, strings, sub
from .policies.waypoints import Waypoints, is_service_entry


def _routes(vs: Manifest) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(protocol section, bound gateway, destination) for each route of a VirtualService."""
    body = spec(vs)
    default = [g for _, g in strings(body.get("gateways"))] or [MESH]
    for section in ("tls", "http", "tcp"):
        for _, rule in dicts(body.get(section)):
            bound = [g for _, m in dicts(rule.get("match")) for _, g in strings(m.get("gateways"))] or default
            for _, route in dicts(rule.get("route")):
                destination = route.get("destination")
                if isinstance(destination, dict):
                    for gateway in bound:
                        yield section, gateway, destination


def _label(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def mermaid(manifests: Iterable[Manifest]) -> str:
    """One ``flowchart LR`` per egress route, in a stable order."""
    objects = list(manifests)
    servers: dict[str, str] = {}  # host -> gateway server TLS mode
    origination: dict[str, str] = {}  # host -> DestinationRule TLS mode
    for m in objects:
        if kind_of(m) == "Gateway":
            for _, server in dicts(spec(m).get("servers")):
                mode = sub(server, "tls", "mode") or sub(server, "port", "protocol") or "plain"
                for _, host in gateway_server_hosts(server):
                    servers[host] = str(mode)
        elif kind_of(m) == "DestinationRule" and isinstance(spec(m).get("host"), str):
            for _, tls in destination_rule_tls(m):
                if tls.get("mode") in ("SIMPLE", "MUTUAL"):
                    origination[spec(m)["host"]] = tls["mode"]
    charts = []
    for vs in sorted((m for m in objects if kind_of(m) == "VirtualService"),
                     key=lambda m: (meta(m, "namespace"), meta(m, "name"))):
        hops = list(_routes(vs))
        inbound = [(s, d) for s, g, d in hops if g == MESH]
        outbound = [(s, g, d) for s, g, d in hops if g != MESH]
        if not inbound or not outbound:
            continue
        section = inbound[0][0]
        _, gateway, to_host = outbound[0]
        host = str(to_host.get("host", "?"))
        port = sub(to_host, "port", "number") or ""
        app_leg = "TLS from the app (SNI " + host + ")" if section == "tls" else "HTTP from the app"
        gateway_mode = servers.get(host, "?")
        sidecar_leg = {"ISTIO_MUTUAL": "mTLS (ISTIO_MUTUAL)", "PASSTHROUGH": "app's TLS, routed by SNI",
                       "SIMPLE": "app's TLS, terminated at the gateway"}.get(gateway_mode, gateway_mode)
        out_mode = origination.get(host)
        gateway_leg = f"TLS originated at the gateway ({out_mode})" if out_mode else "app's TLS passed through"
        name = f"{meta(vs, 'namespace')}/{meta(vs, 'name')}"
        charts.append("\n".join([
            f"%% route {name}",
            "flowchart LR",
            f"    app[{_label('app')}] -->|{_label(app_leg)}| sidecar[{_label('sidecar')}]",
            f"    sidecar -->|{_label(sidecar_leg)}| gateway[{_label('egress gateway ' + gateway)}]",
            f"    gateway -->|{_label(gateway_leg)}| host[{_label(f'{host}:{port}')}]",
        ]))
    charts += _ambient(objects, origination)
    return "\n\n".join(charts) + ("\n" if charts else "")


def _ambient(objects: list[Manifest], origination: dict[str, str]) -> list[str]:
    """One chart per host of each waypoint-bound ServiceEntry, for its first port."""
    index = Waypoints(objects)
    charts = []
    entries = sorted((m for m in objects if is_service_entry(m)), key=lambda m: (meta(m, "namespace"), meta(m, "name")))
    for entry in entries:
        binding = index.binding(entry)
        ports = [port for _, port in dicts(spec(entry).get("ports"))]
        if binding is None or not ports:
            continue
        protocol = str(ports[0].get("protocol", "")).upper()
        port = ports[0].get("targetPort") or ports[0].get("number") or ""
        for _, host in strings(spec(entry).get("hosts")):
            app_leg = "HTTP from the app" if protocol in ("HTTP", "HTTP2", "GRPC") else f"TLS from the app (SNI {host})"
            out_mode = origination.get(host)
            waypoint_leg = (f"TLS originated at the waypoint ({out_mode})" if out_mode else
                            "plain HTTP" if protocol in ("HTTP", "HTTP2", "GRPC") else "app's TLS passed through")
            charts.append("\n".join([
                f"%% route {meta(entry, 'namespace')}/{meta(entry, 'name')} (ambient)",
                "flowchart LR",
                f"    app[{_label('app')}] -->|{_label(app_leg)}| ztunnel[{_label('ztunnel')}]",
                f"    ztunnel -->|{_label('HBONE (mTLS)')}| waypoint[{_label('waypoint ' + binding.waypoint)}]",
                f"    waypoint -->|{_label(waypoint_leg)}| host[{_label(f'{host}:{port}')}]",
            ]))
    return charts
