"""A Mermaid flowchart of each egress route's traffic path, read from the manifests themselves.

Works on any objects (ours or hand-written). A route is what the ``egress-via-gateway`` rule calls
one: a MESH_EXTERNAL ServiceEntry host that a VirtualService bound to ``mesh`` sends to the egress
gateway and that a VirtualService bound to a Gateway serving the host sends on to the host (the
same ``Router``); in ambient mode, a ServiceEntry bound to a waypoint (``istio.io/use-waypoint``, its
own or its Namespace's, the ambient rules' ``Waypoints``), which ztunnel sends its traffic to. The
output is one ``flowchart LR`` with one ``subgraph`` per route: several
``flowchart`` blocks in one file are not valid Mermaid.

Every name and label is written as a quoted Mermaid string with ``"``, ``#``, ``<``, ``>`` and
control characters replaced, so a name cannot end the string or start a statement of its own
(``click``, ``style``, a second ``flowchart``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from .findings import Manifest
from .policies.egress_references import Destination, Stack
from .policies.egress_via_gateway import Router
from .policies.objects import (
    destination_rule_tls,
    dicts,
    gateway_server_hosts,
    host_key,
    host_matches,
    kind_of,
    meta,
    port_number,
    spec,
    strings,
    sub,
)
from .policies.waypoints import Waypoints, is_service_entry

# What the sidecar-to-gateway leg carries, by the TLS mode of the gateway server for the host
# (networking.v1.ServerTLSSettings.TLSmode); a server without tls carries its port's protocol.
_SIDECAR_LEG = {
    "ISTIO_MUTUAL": "mTLS (ISTIO_MUTUAL)",
    "PASSTHROUGH": "app's TLS, routed by SNI",
    "AUTO_PASSTHROUGH": "app's TLS, routed by SNI (AUTO_PASSTHROUGH)",
    "SIMPLE": "app's TLS, terminated at the gateway (SIMPLE)",
    "MUTUAL": "app's TLS, terminated at the gateway (MUTUAL)",
    "OPTIONAL_MUTUAL": "app's TLS, terminated at the gateway (OPTIONAL_MUTUAL)",
}
_APP_LEG = {"tls": "TLS from the app (SNI {host})", "http": "HTTP from the app", "tcp": "TCP from the app"}


@dataclass(frozen=True)
class Path:
    """One route's four hops, as labels."""

    host: str
    port: int | None
    gateway: str
    """The label of the hop that routes to the host: ``egress gateway ns/name`` or ``waypoint ns/name``."""
    app_leg: str
    sidecar_leg: str
    gateway_leg: str
    proxy: str = "sidecar"
    """What carries the app's traffic first: ``sidecar``, or ``ztunnel`` in ambient mode."""


def _section(destination: Destination) -> str:
    # ``spec.tls[0].route[0].destination`` -> ``tls``
    return destination.path.split(".", 2)[1].split("[", 1)[0]


def _server(gateway: Manifest, host: str) -> dict[str, Any] | None:
    for _, server in dicts(spec(gateway).get("servers")):
        if any(host_matches(pattern, host) for _, pattern in gateway_server_hosts(server)):
            return server
    return None


def _origination(objects: list[Manifest], host: str) -> str | None:
    """The TLS mode a DestinationRule for the host originates (SIMPLE/MUTUAL), if any."""
    for m in objects:
        if kind_of(m) == "DestinationRule" and spec(m).get("host") == host:
            for _, tls in destination_rule_tls(m):
                if tls.get("mode") in ("SIMPLE", "MUTUAL"):
                    return str(tls["mode"])
    return None


def _host_port(gateway_vs: Manifest, gateway_ref: str, host: str) -> int | None:
    """The port the gateway-bound VirtualService sends the host to."""
    body = spec(gateway_vs)
    for section in ("tls", "http", "tcp"):
        for _, rule in dicts(body.get(section)):
            for _, route in dicts(rule.get("route")):
                if sub(route, "destination", "host") == host:
                    number = port_number(sub(route, "destination", "port", "number"))
                    if number is not None:
                        return number
    return None


def _entry_port(objects: list[Manifest], host: str) -> int | None:
    for m in objects:
        if kind_of(m) == "ServiceEntry" and host in [h for _, h in strings(spec(m).get("hosts"))]:
            for _, port in dicts(spec(m).get("ports")):
                number = port_number(port.get("number"))
                if number is not None:
                    return number
    return None


def routes(manifests: Iterable[Manifest]) -> list[Path]:
    """Each external host routed mesh -> egress gateway -> host, in host order."""
    objects = [m for m in manifests if isinstance(m, dict)]
    stack = Stack(objects)
    router = Router(stack)
    hosts = sorted({host_key(raw) for entry in stack.service_entries for _, raw in strings(entry.body.get("hosts"))})
    found: list[Path] = []
    for host in hosts:
        routing = router(host)
        if not routing.to_gateway or not routing.gateway_legs:
            continue  # not through the gateway: egress-via-gateway says why
        section = _section(routing.to_gateway[0].destination)
        gateway_vs, gateway = routing.gateway_legs[0]
        server = _server(gateway.manifest, host) or {}
        mode = sub(server, "tls", "mode")
        protocol = str(sub(server, "port", "protocol") or "").upper()
        if isinstance(mode, str) and mode in _SIDECAR_LEG:
            sidecar_leg = _SIDECAR_LEG[mode]
        elif protocol in ("HTTP", "HTTP2", "GRPC"):
            sidecar_leg = f"plain {protocol}, unencrypted"
        else:
            sidecar_leg = f"{protocol or 'traffic'} to the egress gateway"
        originated = _origination(objects, host)
        if originated:
            gateway_leg = f"TLS originated at the gateway ({originated})"
        elif mode in ("PASSTHROUGH", "AUTO_PASSTHROUGH") or (section == "tls" and not mode and protocol == "TLS"):
            gateway_leg = "app's TLS passed through"
        else:
            gateway_leg = "plain HTTP, unencrypted" if section == "http" else "plain TCP, unencrypted"
        found.append(Path(
            host=host,
            port=_host_port(gateway_vs.manifest, gateway.ref, host) or _entry_port(objects, host),
            gateway=f"egress gateway {gateway.ref}",
            app_leg=_APP_LEG.get(section, "from the app").format(host=host),
            sidecar_leg=sidecar_leg,
            gateway_leg=gateway_leg,
        ))
    return found + _ambient(objects)


def _ambient(objects: list[Manifest]) -> list[Path]:
    """One path per host of each waypoint-bound ServiceEntry, for its first port."""
    index = Waypoints(objects)
    found: list[Path] = []
    entries = sorted((m for m in objects if is_service_entry(m)), key=lambda m: (meta(m, "namespace"), meta(m, "name")))
    for entry in entries:
        binding = index.binding(entry)
        ports = [port for _, port in dicts(spec(entry).get("ports"))]
        if binding is None or not ports:
            continue
        protocol = str(ports[0].get("protocol", "")).upper()
        port = port_number(ports[0].get("targetPort")) or port_number(ports[0].get("number"))
        http = protocol in ("HTTP", "HTTP2", "GRPC")
        for _, host in strings(spec(entry).get("hosts")):
            originated = _origination(objects, host)
            found.append(Path(
                host=host, port=port, gateway=f"waypoint {binding.waypoint}", proxy="ztunnel",
                app_leg="HTTP from the app" if http else f"TLS from the app (SNI {host})",
                sidecar_leg="HBONE (mTLS)",
                gateway_leg=(f"TLS originated at the waypoint ({originated})" if originated else
                             "plain HTTP, unencrypted" if http else "app's TLS passed through"),
            ))
    return found


def text(value: str) -> str:
    """``value`` as a quoted Mermaid string that nothing in it can end or escape from."""
    out = []
    for char in value:
        code = ord(char)
        if char == '"':
            out.append("#quot;")
        elif char in "#<>":
            out.append(f"#{code};")
        elif code < 32 or 127 <= code < 160 or code in (0x2028, 0x2029):
            # Newlines, ANSI escapes and other controls would start a new statement or garble output.
            out.append(f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _lines(paths: list[Path]) -> Iterator[str]:
    yield "flowchart LR"
    for n, p in enumerate(paths):
        target = f"{p.host}:{p.port}" if p.port is not None else p.host
        proxy, hop = (p.proxy, "gateway" if p.proxy == "sidecar" else "waypoint")
        yield f"    subgraph route{n}[{text('egress to ' + p.host)}]"
        yield f"        route{n}_app[{text('app')}] -->|{text(p.app_leg)}| route{n}_{proxy}[{text(proxy)}]"
        yield f"        route{n}_{proxy} -->|{text(p.sidecar_leg)}| route{n}_{hop}[{text(p.gateway)}]"
        yield f"        route{n}_{hop} -->|{text(p.gateway_leg)}| route{n}_host[{text(target)}]"
        yield "    end"


def mermaid(manifests: Iterable[Manifest]) -> str:
    """One ``flowchart LR`` with a subgraph per egress route; empty when there is none."""
    paths = routes(manifests)
    return "\n".join(_lines(paths)) + "\n" if paths else ""
