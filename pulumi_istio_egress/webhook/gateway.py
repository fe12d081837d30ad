"""Gateway (networking.istio.io): istiod's ``ValidateGateway``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._syntax import (
    HTTP_PROTOCOLS,
    PORT_FIX,
    TLS_PROTOCOLS,
    UNIX_PREFIX,
    check_namespace_slash_host,
    ip_problem,
    label_ok,
    port_problem,
    protocol,
    unix_address_problem,
)
from ._tls import check_server_tls, server_tls_mode
from ._walk import Report, at, empty_list, q, sub

_SEMANTICS = "internal.istio.io/gateway-semantics"


def check_gateway(r: Report, spec: Mapping[str, Any]) -> None:
    # Gateways generated from Gateway API objects carry this annotation and get looser name rules.
    gateway_semantics = r.annotations.get(_SEMANTICS) == "gateway"
    if r.name is not None and not label_ok(r.name) and not gateway_semantics:
        r.add(
            "metadata.name",
            r.name,
            f"invalid gateway name: {q(r.name)}",
            "Use a name of lower-case letters, digits and '-' without dots: Gateways are referenced "
            "as '<namespace>/<name>'",
        )
    servers = r.objs(spec, "servers", "spec")
    if empty_list(spec, "servers"):
        r.add(
            "spec.servers",
            spec.get("servers"),
            "gateway must have at least one server",
            "Add a server with a port, hosts and (for HTTPS/TLS) tls settings",
        )
    names: set[str] = set()
    for i, server in servers:
        path = at("spec.servers", i)
        if server is None:
            r.add(path, None, "server may not be nil", "Remove the empty server entry")
            continue
        _check_server(r, server, path, gateway_semantics)
        port = r.obj(server, "port", path)
        if port is not None:
            name = r.text(port, "name", sub(path, "port"))
            if name in names:
                r.add(
                    sub(sub(path, "port"), "name"),
                    name,
                    f"port names in servers must be unique: duplicate name {name}",
                    "Give every server port its own name, e.g. 'https-443', 'tls-8443'",
                )
            names.add(name)


def _check_server(r: Report, server: Mapping[str, Any], path: str, gateway_semantics: bool) -> None:
    hosts = r.strs(server, "hosts", path)
    if empty_list(server, "hosts"):
        r.add(
            sub(path, "hosts"),
            server.get("hosts"),
            "server config must contain at least one host",
            "List the hosts this server accepts, e.g. ['api.example.com'] or ['*/api.example.com']",
        )
    for i, host in hosts:
        check_namespace_slash_host(
            r, host, at(sub(path, "hosts"), i), gateway=True, gateway_semantics=gateway_semantics
        )
    bind = r.text(server, "bind", path)
    port = r.obj(server, "port", path)
    port_ok = _check_server_port(r, port, bind, sub(path, "port"))
    _check_bind(r, port, bind, path)
    tls = r.obj(server, "tls", path)
    check_server_tls(r, tls, sub(path, "tls"))
    if not port_ok or port is None:
        return
    proto = protocol(r.text(port, "protocol", sub(path, "port")))
    if proto in TLS_PROTOCOLS and tls is None:
        r.add(
            sub(path, "tls"),
            None,
            "server must have TLS settings for HTTPS/TLS protocols",
            "Add tls: {mode: PASSTHROUGH} to pass the client's TLS through, or "
            "tls: {mode: SIMPLE, credentialName: <secret>} to terminate it",
        )
    elif proto not in TLS_PROTOCOLS and tls is not None:
        if proto in HTTP_PROTOCOLS:
            mode = server_tls_mode(r, tls, sub(path, "tls"))
            certs = any(r.text(tls, f, sub(path, "tls")) for f in ("caCertificates", "privateKey", "serverCertificate"))
            # Only `tls: {httpsRedirect: true}` (mode left at PASSTHROUGH) is allowed on plain HTTP.
            if mode is not None and (mode not in ("PASSTHROUGH", "AUTO_PASSTHROUGH") or certs):
                r.add(
                    sub(path, "tls"),
                    tls,
                    "server cannot have TLS settings for plain text HTTP ports",
                    "Remove tls (keep only httpsRedirect), or change the port protocol to HTTPS",
                )
        else:
            r.add(
                sub(path, "tls"),
                tls,
                "server cannot have TLS settings for non HTTPS/TLS ports",
                "Remove tls, or change the port protocol to HTTPS or TLS",
            )


def _check_server_port(r: Report, port: Mapping[str, Any] | None, bind: str, path: str) -> bool:
    """istiod's ``validateServerPort``; ``True`` when it found no error."""
    if port is None:
        r.add(path, None, "port is required", "Add port: {number: 443, name: https, protocol: HTTPS}")
        return False
    problems: list[tuple[str, Any, str, str]] = []
    proto = r.text(port, "protocol", path)
    if protocol(proto) is None:
        problems.append(
            (
                sub(path, "protocol"),
                proto,
                f"invalid protocol {q(proto)}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, "
                "REDIS, MYSQL, TCP",
                "Use HTTP, HTTPS, HTTP2, GRPC, TLS or TCP",
            )
        )
    number = r.integer(port, "number", path) or 0
    if (number > 0 or not bind.startswith(UNIX_PREFIX)) and port_problem(number):
        problems.append((sub(path, "number"), number, str(port_problem(number)), PORT_FIX))
    if (r.integer(port, "targetPort", path) or 0) > 0:
        problems.append(
            (
                sub(path, "targetPort"),
                port["targetPort"],
                "targetPort has no impact on Gateways",
                "Remove targetPort; the gateway listens on port.number",
            )
        )
    if not r.text(port, "name", path):
        problems.append(
            (
                sub(path, "name"),
                None,
                f"port name must be set: {_port_text(port)}",
                "Name the port, e.g. 'https' or 'tls-443'",
            )
        )
    for problem in problems:
        r.add(*problem)
    return not problems


def _check_bind(r: Report, port: Mapping[str, Any] | None, bind: str, path: str) -> None:
    if bind.startswith(UNIX_PREFIX):
        problem = unix_address_problem(bind.removeprefix(UNIX_PREFIX))
        if problem is not None:
            r.add(sub(path, "bind"), bind, problem, "Use unix:///absolute/path or unix://@abstract-name")
        if port is not None and (r.integer(port, "number", sub(path, "port")) or 0) != 0:
            r.add(
                sub(sub(path, "port"), "number"),
                port.get("number"),
                f"port number must be 0 for unix domain socket: {_port_text(port)}",
                "Set port.number to 0 for a unix:// bind",
            )
    elif bind:
        problem = ip_problem(bind)
        if problem is not None:
            r.add(sub(path, "bind"), bind, problem, "Use an IP address for bind, or remove it")


def _port_text(port: Mapping[str, Any]) -> str:
    """The port roughly as Go prints the protobuf message."""
    parts = [f"{k}:{q(v) if isinstance(v, str) else v}" for k, v in port.items() if v not in (None, "", 0)]
    return " ".join(parts)
