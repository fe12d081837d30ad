"""Sidecar (networking.istio.io): istiod's ``ValidateSidecar``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._http import check_destination
from ._syntax import (
    PORT_FIX,
    PORT_NAME_FIX,
    PROTOCOL_FIX,
    TLS_PROTOCOLS,
    UNIX_PREFIX,
    check_namespace_slash_host,
    check_selector_labels,
    fqdn_problem,
    ip_problem,
    port_name_problem,
    port_problem,
    protocol,
    unix_address_problem,
)
from ._tls import check_server_tls, server_tls_mode
from ._walk import Report, at, empty_list, is_array, q, sub
from .destinationrule import check_connection_pool

_LOOPBACK = ("127.0.0.1", "0.0.0.0", "::1", "::")
_CAPTURE_MODES = ("DEFAULT", "IPTABLES", "NONE")


def check_sidecar(r: Report, spec: Mapping[str, Any]) -> None:
    check_selector_labels(r, r.obj(spec, "workloadSelector", "spec"), "labels", "spec.workloadSelector")
    if all(empty_list(spec, f) for f in ("egress", "ingress")) and not any(
        spec.get(f) is not None for f in ("outboundTrafficPolicy", "inboundConnectionPool")
    ):
        r.add(
            "spec",
            None,
            "sidecar: empty configuration provided",
            "Add egress hosts (e.g. [{hosts: ['./*', 'istio-system/*']}]) or an outboundTrafficPolicy",
        )
        return
    ports: set[int] = set()
    for i, listener in r.objs(spec, "ingress", "spec"):
        _check_ingress(r, listener, at("spec.ingress", i), ports)
    check_connection_pool(r, r.obj(spec, "inboundConnectionPool", "spec"), "spec.inboundConnectionPool")
    _check_egress(r, spec)
    _check_outbound_policy(r, r.obj(spec, "outboundTrafficPolicy", "spec"), "spec.outboundTrafficPolicy")


def _check_port_name_and_protocol(r: Report, port: Mapping[str, Any], path: str) -> None:
    name = r.text(port, "name", path)
    if name and port_name_problem(name):
        r.add(sub(path, "name"), name, str(port_name_problem(name)), PORT_NAME_FIX)
    proto = r.text(port, "protocol", path)
    if proto and protocol(proto) is None:
        r.add(sub(path, "protocol"), proto, f"unsupported protocol: {proto}", PROTOCOL_FIX)


def _check_port(r: Report, port: Mapping[str, Any], path: str, *, number: int) -> None:
    _check_port_name_and_protocol(r, port, path)
    problem = port_problem(number)
    if problem is not None:
        r.add(sub(path, "number"), number, problem, PORT_FIX)


def _check_bind_ip(r: Report, bind: str, path: str) -> None:
    if bind and ip_problem(bind):
        r.add(sub(path, "bind"), bind, str(ip_problem(bind)), "Use an IP address such as 127.0.0.1, or remove bind")


def _check_ingress(r: Report, listener: Mapping[str, Any] | None, path: str, ports: set[int]) -> None:
    if listener is None:
        r.add(path, None, "sidecar: ingress may not be null", "Remove the empty ingress entry")
        return
    port = r.required(
        listener,
        "port",
        path,
        "sidecar: port is required for ingress listeners",
        "Add port: {number: <port>, protocol: HTTP, name: http}",
    )
    if port is None:
        return
    where = sub(path, "port")
    if (r.integer(port, "targetPort", where) or 0) > 0:
        r.add(sub(where, "targetPort"), port["targetPort"], "targetPort has no impact on Sidecars", "Remove targetPort")
    number = r.integer(port, "number", where) or 0
    _check_port(r, port, where, number=number)
    _check_bind_ip(r, r.text(listener, "bind", path), path)
    if number in ports:
        r.add(
            sub(where, "number"),
            number,
            "sidecar: ports on IP bound listeners must be unique",
            "Use each port number in one ingress listener only",
        )
    ports.add(number)
    endpoint = r.text(listener, "defaultEndpoint", path)
    if endpoint:
        _check_default_endpoint(r, endpoint, sub(path, "defaultEndpoint"))
    tls = r.obj(listener, "tls", path)
    if tls is not None:
        _check_ingress_tls(r, tls, sub(path, "tls"), r.text(port, "protocol", where))
    check_connection_pool(r, r.obj(listener, "connectionPool", path), sub(path, "connectionPool"))


def _check_default_endpoint(r: Report, endpoint: str, path: str) -> None:
    fix = "Use 127.0.0.1:<port>, 0.0.0.0:<port>, [::1]:<port>, [::]:<port> or unix:///path"
    if endpoint.startswith(UNIX_PREFIX):
        problem = unix_address_problem(endpoint.removeprefix(UNIX_PREFIX))
        if problem is not None:
            r.add(path, endpoint, problem, fix)
        return
    host, port, problem = _split_host_port(endpoint)
    if problem is not None:
        r.add(path, endpoint, f"address {endpoint}: {problem}", fix)
    if host and host not in _LOOPBACK:
        r.add(
            path,
            endpoint,
            "sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,"
            "[::1]:port,[::]:port,unix://filepath or unset",
            fix,
        )
    if not (port.isascii() and port.lstrip("+-").isdigit()) or len(port) > 18:
        r.add(
            path,
            endpoint,
            f"sidecar: defaultEndpoint port ({port}) is not a number: strconv.Atoi: parsing {q(port)}: invalid syntax",
            fix,
        )
    elif port_problem(int(port)):
        r.add(path, endpoint, str(port_problem(int(port))), fix)


def _split_host_port(text: str) -> tuple[str, str, str | None]:
    """Go's ``net.SplitHostPort``: ``(host, port, problem)``."""
    colon = text.rfind(":")
    if colon < 0:
        return "", "", "missing port in address"
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return "", "", "missing ']' in address"
        if end + 1 == len(text):
            return "", "", "missing port in address"
        if end + 1 != colon:
            return "", "", "too many colons in address" if text[end + 1] == ":" else "missing port in address"
        host, rest_from, tail_from = text[1:end], 1, end + 1
    else:
        host, rest_from, tail_from = text[:colon], 0, 0
        if ":" in host:
            return "", "", "too many colons in address"
    if "[" in text[rest_from:]:
        return "", "", "unexpected '[' in address"
    if "]" in text[tail_from:]:
        return "", "", "unexpected ']' in address"
    return host, text[colon + 1 :], None


def _check_ingress_tls(r: Report, tls: Mapping[str, Any], path: str, port_protocol: str) -> None:
    unsupported = (
        ("subjectAltNames", "sidecar: subjectAltNames is not supported in ingress tls"),
        ("httpsRedirect", "sidecar: httpsRedirect is not supported"),
        ("credentialName", "sidecar: credentialName is not currently supported"),
        ("credentialNames", "sidecar: credentialNames is not currently supported"),
        ("tlsCertificates", "sidecar: tls_certificates is not currently supported"),
    )
    for field, message in unsupported:
        value = tls.get(field)
        if value not in (None, "", False) and not (is_array(value) and len(value) == 0):
            r.add(
                sub(path, field),
                tls[field],
                message,
                f"Remove {field}; sidecar ingress TLS takes serverCertificate, privateKey and caCertificates",
            )
    mode = server_tls_mode(r, tls, path)
    if mode in ("ISTIO_MUTUAL", "AUTO_PASSTHROUGH"):
        r.add(
            sub(path, "mode"),
            mode,
            f"configuration is invalid: cannot set mode to {mode} in sidecar ingress tls",
            "Use SIMPLE or MUTUAL with serverCertificate and privateKey",
        )
    if protocol(port_protocol) not in TLS_PROTOCOLS:
        r.add(
            path,
            None,
            "server cannot have TLS settings for non HTTPS/TLS ports",
            "Set the ingress port protocol to HTTPS or TLS, or remove tls",
        )
    check_server_tls(r, tls, path)


def _check_egress(r: Report, spec: Mapping[str, Any]) -> None:
    listeners = r.objs(spec, "egress", "spec")
    ports: set[int] = set()
    sockets: set[str] = set()
    catch_all = False
    for index, (i, listener) in enumerate(listeners):
        path = at("spec.egress", i)
        if listener is None:
            r.add(path, None, "egress listener may not be null", "Remove the empty egress entry")
            continue
        port = r.obj(listener, "port", path)
        if port is None:
            # Only one listener may omit the port (it catches the rest), and it has to come last.
            if catch_all:
                r.add(
                    path,
                    None,
                    "sidecar: egress can have only one listener with empty port",
                    "Give the other listeners a port, or merge their hosts",
                )
                continue
            if index == len(listeners) - 1:
                catch_all = True
            else:
                r.add(
                    path,
                    None,
                    "sidecar: the egress listener with empty port should be the last listener in the list",
                    "Move the listener without a port to the end of egress",
                )
        else:
            _check_egress_port(r, listener, port, path, ports, sockets)
        hosts = r.strs(listener, "hosts", path)
        r.require_items(
            listener,
            "hosts",
            path,
            "sidecar: egress listener must contain at least one host",
            "List hosts as '<namespace>/<host>', e.g. ['./*', 'istio-system/*']",
        )
        for j, host in hosts:
            check_namespace_slash_host(r, host, at(sub(path, "hosts"), j), gateway=False)


def _check_egress_port(
    r: Report, listener: Mapping[str, Any], port: Mapping[str, Any], path: str, ports: set[int], sockets: set[str]
) -> None:
    where = sub(path, "port")
    if (r.integer(port, "targetPort", where) or 0) > 0:
        r.add(sub(where, "targetPort"), port["targetPort"], "targetPort has no impact on Sidecars", "Remove targetPort")
    bind = r.text(listener, "bind", path)
    capture = r.enum(listener, "captureMode", path, _CAPTURE_MODES)
    number = r.integer(port, "number", where) or 0
    if number == 0:
        # Port 0 means a unix domain socket listener: no port number to check.
        _check_port_name_and_protocol(r, port, where)
        if not bind.startswith(UNIX_PREFIX):
            r.add(
                sub(path, "bind"),
                bind or None,
                "sidecar: ports with 0 value must have a unix domain socket bind address",
                "Set bind to unix:///path, or give the port a number",
            )
        else:
            problem = unix_address_problem(bind.removeprefix(UNIX_PREFIX))
            if problem is not None:
                r.add(sub(path, "bind"), bind, problem, "Use unix:///absolute/path or unix://@abstract-name")
        if capture not in ("DEFAULT", "NONE", None):
            r.add(
                sub(path, "captureMode"),
                capture,
                "sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners",
                "Use captureMode DEFAULT or NONE",
            )
        if bind in sockets:
            r.add(
                sub(path, "bind"),
                bind,
                "sidecar: unix domain socket values for listeners must be unique",
                "Use a different socket path per listener",
            )
        sockets.add(bind)
        return
    _check_port(r, port, where, number=number)
    _check_bind_ip(r, bind, path)
    if number in ports:
        r.add(
            sub(where, "number"),
            number,
            "sidecar: ports on IP bound listeners must be unique",
            "Use each port number in one egress listener only",
        )
    ports.add(number)


def _check_outbound_policy(r: Report, policy: Mapping[str, Any] | None, path: str) -> None:
    if policy is None:
        return
    mode = r.enum(policy, "mode", path, ("REGISTRY_ONLY", "ALLOW_ANY"))
    proxy = r.obj(policy, "egressProxy", path)
    if proxy is None:
        return
    where = sub(path, "egressProxy")
    if mode != "ALLOW_ANY":
        r.add(
            where,
            None,
            "sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode",
            "Set outboundTrafficPolicy.mode to ALLOW_ANY, or remove egressProxy",
        )
        return
    host = r.text(proxy, "host", where)
    problem = fqdn_problem(host)
    if problem is not None:
        r.add(sub(where, "host"), host or None, problem, "Use the egress proxy's host name")
    if r.obj(proxy, "port", where) is None:
        r.add(
            sub(where, "port"), None, "sidecar: egress_proxy port must be non-nil", "Add port: {number: <proxy port>}"
        )
        return
    check_destination(r, proxy, where)
