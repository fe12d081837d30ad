"""ServiceEntry (networking.istio.io): istiod's ``ValidateServiceEntry``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._syntax import (
    HTTP_PROTOCOLS,
    PORT_FIX,
    PORT_NAME_FIX,
    PROTOCOL_FIX,
    TLS_PROTOCOLS,
    UNIX_PREFIX,
    check_export_to,
    check_labels,
    check_selector_labels,
    fqdn_problem,
    ip_subnet_problem,
    is_ip,
    port_name_problem,
    port_problem,
    protocol,
    unix_address_problem,
    wildcard_domain_problem,
)
from ._walk import Report, at, empty_list, nonempty, q, sub

RESOLUTIONS = ("NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS")
LOCATIONS = ("MESH_EXTERNAL", "MESH_INTERNAL")
_DYNAMIC_DNS_PROTOCOLS = frozenset({"HTTP", "TLS", "GRPC", "HTTP2"})
_WAYPOINT_LABEL = "istio.io/use-waypoint"


def check_service_entry(r: Report, spec: Mapping[str, Any]) -> None:
    selector = r.obj(spec, "workloadSelector", "spec")
    check_selector_labels(r, selector, "labels", "spec.workloadSelector")
    has_endpoints = nonempty(spec, "endpoints")
    if selector is not None and has_endpoints:
        r.add(
            "spec",
            None,
            "only one of WorkloadSelector or Endpoints is allowed in Service Entry",
            "Remove workloadSelector or endpoints",
        )
    resolution = r.enum(spec, "resolution", "spec", RESOLUTIONS)
    location = r.enum(spec, "location", "spec", LOCATIONS)

    hosts = r.strs(spec, "hosts", "spec")
    r.require_items(
        spec,
        "hosts",
        "spec",
        "service entry must have at least one host",
        "List the external host names, e.g. ['api.example.com']",
    )
    for i, host in hosts:
        if host == "*":
            r.add(
                at("spec.hosts", i),
                host,
                f"invalid host {host}",
                "Name the hosts ('api.example.com' or '*.example.com'); '*' alone is not allowed",
            )
            continue
        problem = wildcard_domain_problem(host)
        if problem is not None:
            r.add(
                at("spec.hosts", i),
                host,
                problem,
                "Use a DNS name, optionally starting with '*.'; IP addresses belong in addresses",
            )

    addresses = r.strs(spec, "addresses", "spec")
    for i, address in addresses:
        problem = ip_subnet_problem(address)
        if problem is not None:
            r.add(at("spec.addresses", i), address, problem, "Use an IP address or a CIDR block such as 10.0.0.0/8")
    if any("/" in a for _, a in addresses) and resolution not in ("NONE", "STATIC", None):
        r.add(
            "spec.resolution",
            resolution,
            "CIDR addresses are allowed only for NONE/STATIC resolution types",
            "Use resolution NONE or STATIC with CIDR addresses, or list single IP addresses",
        )

    port_names, port_protocols = _check_ports(r, spec)
    _check_resolution(r, spec, resolution, location, hosts, addresses, port_names, port_protocols)

    # With several hosts only HTTP (Host header) or TLS (SNI) traffic says which host it is for.
    if resolution not in ("NONE", None) and len(hosts) > 1:
        for i, _, proto in port_protocols:
            if proto not in HTTP_PROTOCOLS and proto not in TLS_PROTOCOLS:
                r.add(
                    at("spec.ports", i),
                    None,
                    "multiple hosts provided with non-HTTP, non-TLS ports",
                    "Use one ServiceEntry per host for TCP ports, or set the port protocol to HTTP or TLS",
                )
                break
    check_export_to(r, spec, "spec", service_entry=True)


Protocols = list[tuple[int, str, str | None]]
"""``(index, protocol as written, canonical protocol or None)`` for each port."""


def _check_ports(r: Report, spec: Mapping[str, Any]) -> tuple[set[str], Protocols]:
    """Port checks; returns the port names and each port's protocol."""
    names: set[str] = set()
    numbers: set[int] = set()
    protocols: Protocols = []
    for i, port in r.objs(spec, "ports", "spec"):
        path = at("spec.ports", i)
        if port is None:
            r.add(path, None, "service entry port may not be null", "Remove the empty port entry")
            continue
        name = r.text(port, "name", path)
        number = r.integer(port, "number", path) or 0
        proto_name = r.text(port, "protocol", path)
        if name in names:
            r.add(
                sub(path, "name"),
                name,
                f"service entry port name {q(name)} already defined",
                "Give every port its own name",
            )
        names.add(name)
        if number in numbers:
            r.add(
                sub(path, "number"),
                number,
                f"service entry port {number} already defined",
                "List each port number once",
            )
        numbers.add(number)
        target = r.integer(port, "targetPort", path) or 0
        if target != 0 and port_problem(target):
            r.add(sub(path, "targetPort"), target, str(port_problem(target)), PORT_FIX)
        if port_name_problem(name):
            r.add(sub(path, "name"), name, str(port_name_problem(name)), PORT_NAME_FIX)
        if proto_name and protocol(proto_name) is None:
            r.add(sub(path, "protocol"), proto_name, f"unsupported protocol: {proto_name}", PROTOCOL_FIX)
        if port_problem(number):
            r.add(sub(path, "number"), number, str(port_problem(number)), PORT_FIX)
        protocols.append((i, proto_name, protocol(proto_name)))
    return names, protocols


def _check_resolution(
    r: Report,
    spec: Mapping[str, Any],
    resolution: str | None,
    location: str | None,
    hosts: list[tuple[int, str]],
    addresses: list[tuple[int, str]],
    port_names: set[str],
    port_protocols: Protocols,
) -> None:
    endpoints = r.objs(spec, "endpoints", "spec")
    if resolution == "NONE":
        if endpoints:
            r.add(
                "spec.endpoints",
                spec.get("endpoints"),
                "no endpoints should be provided for resolution type none",
                "Remove endpoints, or use resolution STATIC (IPs) or DNS (host names)",
            )
    elif resolution == "STATIC":
        for i, endpoint in endpoints:
            _check_static_endpoint(r, endpoint, at("spec.endpoints", i), port_names)
    elif resolution in ("DNS", "DNS_ROUND_ROBIN"):
        if not endpoints:
            for i, host in hosts:
                problem = fqdn_problem(host)
                if problem is not None:
                    r.add(
                        at("spec.hosts", i),
                        host,
                        "hosts must be FQDN or contain only prefix wildcards if no endpoints are provided "
                        f"for resolution mode {resolution}, {problem}",
                        "Use resolution NONE (or DYNAMIC_DNS) for wildcard hosts, or list concrete host names",
                    )
                    break
        if resolution == "DNS_ROUND_ROBIN" and len(endpoints) > 1:
            r.add(
                "spec.endpoints",
                spec.get("endpoints"),
                f"there must only be 0 or 1 endpoint for resolution mode {resolution}",
                "Keep at most one endpoint, or use resolution DNS",
            )
        for i, endpoint in endpoints:
            _check_dns_endpoint(r, endpoint, at("spec.endpoints", i), port_names)
    elif resolution == "DYNAMIC_DNS":
        if not hosts and empty_list(spec, "hosts"):
            r.add(
                "spec.hosts",
                None,
                f"at least one wildcard host must be provided for resolution type {resolution}",
                "Add a wildcard host such as '*.example.com'",
            )
        for i, host in hosts:
            if not host.startswith("*"):
                r.add(
                    at("spec.hosts", i),
                    host,
                    f"host must be wildcarded for resolution mode {resolution}",
                    "Use a wildcard host such as '*.example.com', or resolution DNS for a concrete host",
                )
        if addresses:
            r.add(
                "spec.addresses",
                [a for _, a in addresses],
                # (sic: istiod's message lacks the space in "generatedfrom" and "hostsfield")
                f"addresses cannot be set for resolution type {resolution}. HTTP route domains will only be "
                "generatedfrom the hosts field values",
                "Remove addresses",
            )
        if endpoints:
            r.add(
                "spec.endpoints",
                spec.get("endpoints"),
                f"endpoints cannot be set for resolution type {resolution}. Destination IP address determined "
                "from hostsfield values",
                "Remove endpoints",
            )
        for i, written, proto in port_protocols:
            if proto not in _DYNAMIC_DNS_PROTOCOLS:
                r.add(
                    sub(at("spec.ports", i), "protocol"),
                    written or None,
                    f"only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type {resolution}",
                    "Set the port protocol to HTTP, TLS, GRPC or HTTP2",
                )
        waypoint = r.labels.get(_WAYPOINT_LABEL)
        if location == "MESH_INTERNAL" and isinstance(waypoint, str) and waypoint and waypoint.lower() != "none":
            r.add(
                "spec.location",
                location,
                f"location MESH_INTERNAL with resolution type {resolution} is not supported when using waypoints",
                "Use location MESH_EXTERNAL, or remove the istio.io/use-waypoint label",
            )


def _check_endpoint_ports(r: Report, endpoint: Mapping[str, Any], path: str, port_names: set[str]) -> None:
    for name, number in r.int_map(endpoint, "ports", path).items():
        where = sub(sub(path, "ports"), name)
        if name not in port_names:
            r.add(
                where,
                number,
                f"endpoint port {number} is not defined by the service entry",
                "Key endpoint ports by the name of a port in spec.ports",
            )
        if port_name_problem(name):
            r.add(where, name, str(port_name_problem(name)), PORT_NAME_FIX)
        if port_problem(number):
            r.add(where, number, str(port_problem(number)), PORT_FIX)


def _check_static_endpoint(r: Report, endpoint: Mapping[str, Any] | None, path: str, port_names: set[str]) -> None:
    """istiod's ``validateWorkloadEntry`` as used for STATIC endpoints (IP addresses only)."""
    if endpoint is None:
        r.add(path, None, "endpoint cannot be nil", "Remove the empty endpoint entry")
        return
    address = r.text(endpoint, "address", path)
    if not address and not r.text(endpoint, "network", path):
        r.add(sub(path, "address"), None, "address is required", "Set the endpoint's IP address")
        return
    unix = address.startswith(UNIX_PREFIX)
    if unix:
        problem = unix_address_problem(address.removeprefix(UNIX_PREFIX))
        if problem is not None:
            r.add(sub(path, "address"), address, problem, "Use unix:///absolute/path or unix://@abstract-name")
        ports = endpoint.get("ports")
        if isinstance(ports, Mapping) and ports:
            r.add(
                sub(path, "ports"),
                endpoint["ports"],
                f"unix endpoint {address} must not include ports",
                "Remove ports from the unix:// endpoint",
            )
    elif address and not is_ip(address):
        r.add(
            sub(path, "address"),
            address,
            f"endpoint address {q(address)} is not a valid IP address",
            "Use an IP address with resolution STATIC, or resolution DNS for host names",
        )
    _check_endpoint_ports(r, endpoint, path, port_names)
    check_labels(r, endpoint, "labels", path)
    if unix and len(port_names) != 1:
        r.add(
            path,
            address,
            "exactly 1 service port required for unix endpoints",
            "Declare exactly one port in spec.ports for a unix:// endpoint",
        )


def _check_dns_endpoint(r: Report, endpoint: Mapping[str, Any] | None, path: str, port_names: set[str]) -> None:
    if endpoint is None:
        r.add(path, None, "endpoint cannot be nil", "Remove the empty endpoint entry")
        return
    address = r.text(endpoint, "address", path)
    if not is_ip(address) and fqdn_problem(address) is not None:
        r.add(
            sub(path, "address"),
            address,
            f"endpoint address {q(address)} is not a valid FQDN or an IP address",
            "Use a host name or an IP address",
        )
    check_labels(r, endpoint, "labels", path)
    _check_endpoint_ports(r, endpoint, path, port_names)
