"""A Mermaid flowchart of each egress route's traffic path, read from the manifests themselves.

Works on any objects (ours or hand-written). The paths are :mod:`.policies.routing`'s answers, one
per ``host:port`` clients use: for Istio's egress gateway (``sidecar_paths``, and
``routing_gateway_api.gateway_api_paths`` for Gateway API routes) the same routing
``egress-via-gateway`` judges, so a path is drawn only when it works (no ``Break``) and a path the
rule flags is never drawn; in ambient mode (``routing_ambient.waypoint_paths``), each host:port of a
ServiceEntry bound to a waypoint, which ztunnel sends its traffic to, drawn only when the binding
holds and the waypoint serves the port (the breaks ``waypoint-binding-resolves`` and
``egress-via-gateway`` report), once per host:port as for the sidecar paths; a waypoint made outside
the stack is not seen, so its paths are not drawn. The output is one ``flowchart LR`` with one
``subgraph`` per path: several ``flowchart`` blocks in one file are not valid Mermaid.

Every name and label is written as a quoted Mermaid string with ``"``, ``#``, ``<``, ``>`` and
control characters replaced, so a name cannot end the string or start a statement of its own
(``click``, ``style``, a second ``flowchart``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..findings import Manifest
from ..policies.objects import HTTP_PROTOCOLS, waypoint_service_entries
from ..policies.routing import Path as Answer
from ..policies.routing import sidecar_paths
from ..policies.routing_ambient import waypoint_paths
from ..policies.routing_gateway_api import gateway_api_paths
from ..policies.stack import Stack

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
    """The port the last hop reaches on the host."""
    gateway: str
    """The label of the hop that routes to the host: ``egress gateway ns/name`` or ``waypoint ns/name``."""
    app_leg: str
    sidecar_leg: str
    gateway_leg: str
    proxy: str = "sidecar"
    """What carries the app's traffic first: ``sidecar``, or ``ztunnel`` in ambient mode."""
    key: tuple[str, int | None] = ("", None)
    """routing's ``host:port`` (the port clients connect to) this path draws."""


def _sidecar_leg(answer: Answer) -> str:
    if answer.flavour == "waypoint":
        return "HBONE (mTLS)"
    if answer.server_tls in _SIDECAR_LEG:
        return _SIDECAR_LEG[answer.server_tls]
    if answer.server_protocol in HTTP_PROTOCOLS:
        return f"plain {answer.server_protocol}, unencrypted"
    return f"{answer.server_protocol or 'traffic'} to the egress gateway"


def _gateway_leg(answer: Answer) -> str:
    hop = "waypoint" if answer.flavour == "waypoint" else "gateway"
    if answer.origination:
        return f"TLS originated at the {hop} ({answer.origination})"
    if answer.passthrough:
        return "app's TLS passed through"
    return "plain HTTP, unencrypted" if answer.app == "http" else "plain TCP, unencrypted"


def _drawn(answer: Answer) -> Path:
    waypoint = answer.flavour == "waypoint"
    return Path(
        host=answer.host, port=answer.target_port,
        gateway=f"{'waypoint' if waypoint else 'egress gateway'} {answer.via}",
        app_leg=_APP_LEG.get(answer.app, "from the app").format(host=answer.host),
        sidecar_leg=_sidecar_leg(answer), gateway_leg=_gateway_leg(answer),
        proxy="ztunnel" if waypoint else "sidecar", key=(answer.host, answer.port),
    )


def routes(manifests: Iterable[Manifest]) -> list[Path]:
    """Each working path: Istio's egress gateway paths in host:port order, then the ambient ones.
    A host:port is drawn once, and only when every ServiceEntry's path for it works (a client of
    any of them would otherwise take the broken one)."""
    objects = [m for m in manifests if isinstance(m, dict)]
    answers: dict[tuple[str, int | None], list[Answer]] = {}
    # The Gateway API flavour answers for the entries its routes carry (routing_gateway_api), the
    # sidecar flavour for the rest: one answer per host:port either way.
    flavours = [*sidecar_paths(Stack(objects), objects), *gateway_api_paths(objects, waypoint_service_entries(objects))]
    for answer in flavours:
        answers.setdefault((answer.host, answer.port), []).append(answer)
    working = [found[0] for _, found in sorted(answers.items(), key=lambda item: (item[0][0], item[0][1] or 0))
               if all(a.works for a in found)]
    # Ambient, in routing_ambient's order: likewise once per host:port, when every entry's path works.
    ambient: dict[tuple[str, int | None], list[Answer]] = {}
    for answer in waypoint_paths(objects):
        ambient.setdefault((answer.host, answer.port), []).append(answer)
    drawn = [found[0] for found in ambient.values() if all(a.works for a in found)]
    return [_drawn(a) for a in working] + [_drawn(a) for a in drawn]


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
