"""Value syntax as istiod's webhook judges it: hosts, IPs, ports, protocols, durations, labels.

Host syntax comes from :mod:`pulumi_istio_egress.names`; the wrappers here only adapt it to the
places where istiod is more lenient (a partial wildcard first label such as ``*foo.example.com``,
upper-case letters in labels) and phrase the result the way istiod does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..gosyntax import GoSyntaxError, netip_addr_ok, netip_prefix_ok, parse_duration
from ..names import dns1123_label_problem, host_problem, label_key_problem
from ._walk import Report, q, sub

MAX_DOMAIN = 255
MAX_LABEL = 63
MS = 1_000_000  # nanoseconds
_CONTROL = re.compile(r"[\x00-\x20\x7f]")
# istiod's label-value syntax has no length limit (Kubernetes' has 63), so names.label_value_problem
# would be stricter than the webhook.
_LABEL_VALUE = re.compile(r"(?:(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")


def label_ok(value: str) -> bool:
    """istiod's ``IsDNS1123Label``: an RFC 1123 label in which upper case is also allowed."""
    return not _CONTROL.search(value) and dns1123_label_problem(value.lower()) is None


def is_ip(text: str) -> bool:
    """An IPv4 or IPv6 address (an IPv6 zone is allowed), as Go's ``netip.ParseAddr``: istiod's
    ``ValidateIPAddress`` (pkg/config/validation/agent) and the authorization policy checks."""
    return netip_addr_ok(text)


def is_prefix(text: str) -> bool:
    """``address/bits`` as Go's ``netip.ParsePrefix``: decimal bits, host bits may be set, no zone."""
    return netip_prefix_ok(text)


def ip_problem(text: str) -> str | None:
    return None if is_ip(text) else f"{text} is not a valid IP"


def ip_subnet_problem(text: str) -> str | None:
    """istiod's ``ValidateIPSubnet``: an address, or a CIDR block when there is one '/'."""
    if text.count("/") == 1:
        return None if is_prefix(text) else f"{text} is not a valid CIDR block"
    return ip_problem(text)


def _host_syntax_problem(host: str, *, allow_wildcard: bool) -> str | None:
    if _CONTROL.search(host):
        return "it contains white space or control characters"
    return host_problem(host, allow_wildcard=allow_wildcard)


def wildcard_domain_problem(host: str) -> str | None:
    """istiod's ``ValidateWildcardDomain``: a DNS name whose first label may be a wildcard.

    istiod takes ``*``, ``*.example.com`` and also the partial ``*foo.example.com`` /
    ``*-foo.example.com`` here; Gateway and Sidecar hosts reject partial wildcards separately.
    """
    if not host:
        return "empty domain name not allowed"
    if len(host) > MAX_DOMAIN:
        return f"domain name {q(host)} too long (max {MAX_DOMAIN})"
    first, dot, rest = host.partition(".")
    if first.startswith("*") and first != "*":
        label = first[2:] if first.startswith("*-") else first[1:]
        if len(first) > MAX_LABEL or not label_ok(label):
            return f"domain name {q(host)} invalid (label {q(first)} invalid)"
        first = "*"
    if not dot:
        # A single label is judged alone: no top-level-domain rule applies to it.
        if first == "*" or label_ok(first):
            return None
        return f"domain name {q(host)} invalid (label {q(first)} invalid)"
    problem = _host_syntax_problem(first + dot + rest, allow_wildcard=True)
    return None if problem is None else f"domain name {q(host)} invalid: {problem}"


def fqdn_problem(host: str) -> str | None:
    """istiod's ``ValidateFQDN``: a DNS name without wildcards (a short name is fine)."""
    if not host:
        return "empty domain name not allowed"
    if len(host) > MAX_DOMAIN:
        return f"domain name {q(host)} too long (max {MAX_DOMAIN})"
    problem = _host_syntax_problem(host, allow_wildcard=False)
    return None if problem is None else f"domain name {q(host)} invalid: {problem}"


def port_problem(number: int) -> str | None:
    if 1 <= number <= 65535:
        return None
    return f"port number {number} must be in the range 1..65535"


PORT_FIX = "Use a port number from 1 to 65535"

# istiod's protocol.Parse: case-insensitive names; anything else is "unsupported".
_PROTOCOLS = {
    name.lower(): name
    for name in (
        "TCP",
        "UDP",
        "GRPC",
        "GRPC-Web",
        "HTTP",
        "HTTP_PROXY",
        "HTTP2",
        "HTTPS",
        "TLS",
        "Mongo",
        "Redis",
        "MySQL",
    )
}
HTTP_PROTOCOLS = frozenset({"HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-Web"})
TLS_PROTOCOLS = frozenset({"HTTPS", "TLS"})
PROTOCOL_FIX = (
    "Use one of HTTP, HTTPS, HTTP2, GRPC, GRPC-Web, TLS, TCP, UDP, Mongo, Redis, MySQL (case does not matter)"
)


def protocol(name: str) -> str | None:
    """The canonical protocol for ``name``, or ``None`` when istiod does not know it."""
    return _PROTOCOLS.get(name.lower())


def port_name_problem(name: str) -> str | None:
    return None if label_ok(name) else f"invalid port name: {name}"


PORT_NAME_FIX = "Use a name of lower-case letters, digits and '-' (at most 63), such as 'http' or 'tls-443'"


UNIX_PREFIX = "unix://"
"""How istiod tells a Unix domain socket address (bind, endpoint, ServiceEntry address) from an IP."""


def unix_address_problem(address: str) -> str | None:
    """istiod's ``ValidateUnixAddress`` (the part after ``unix://``)."""
    if not address:
        return "unix address must not be empty"
    if address.startswith("@"):
        return None
    if not address.startswith("/") or address.endswith("/"):
        return f"{address} is not an absolute path to a file"
    return None


# -- durations ---------------------------------------------------------------------------------


def duration(r: Report, parent: Mapping[str, Any] | None, key: str, path: str) -> int | None:
    """The duration field in nanoseconds; a value Go cannot parse is reported.

    istiod decodes a protobuf Duration from JSON with golang/protobuf's ``jsonpb``, which calls
    Go's ``time.ParseDuration`` (so ``5m`` is fine) and fails with ``bad Duration: <Go's error>``.
    """
    text = r.string(parent, key, path)
    if text is None:
        return None
    try:
        return parse_duration(text)
    except GoSyntaxError as error:
        r.add(sub(path, key), text, f"bad Duration: {error}", "Write a duration such as '500ms', '10s' or '1h'")
        return None


def check_duration(r: Report, parent: Mapping[str, Any] | None, key: str, path: str) -> int | None:
    """istiod's ``ValidateDuration``: at least 1ms and a whole number of milliseconds."""
    ns = duration(r, parent, key, path)
    if ns is None:
        return None
    if ns < MS:
        r.add(
            sub(path, key),
            parent[key] if parent else None,
            "duration must be greater than 1ms",
            "Use a duration of at least 1ms",
        )
    elif ns % MS:
        r.add(
            sub(path, key),
            parent[key] if parent else None,
            "only durations to ms precision are supported",
            "Round the duration to whole milliseconds",
        )
    return ns


# -- labels, selectors, exportTo ----------------------------------------------------------------


def check_labels(r: Report, parent: Mapping[str, Any] | None, key: str, path: str) -> None:
    """istiod's ``labels.Instance.Validate`` for a label map (subset labels, sourceLabels, ...)."""
    labels = r.str_map(parent, key, path)
    where = sub(path, key)
    for k, v in labels.items():
        if _CONTROL.search(k) or label_key_problem(k.lower()) is not None:
            r.add(
                sub(where, k),
                k,
                f"invalid tag key: {q(k)}",
                "Use a label key such as 'app' or 'example.com/tier': an optional DNS prefix and '/', "
                "then at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric",
            )
        if not _LABEL_VALUE.fullmatch(v):
            r.add(
                sub(where, k),
                v,
                f"invalid tag value: {q(v)}",
                "Use a label value of letters, digits, '-', '_' or '.', starting and ending alphanumeric",
            )


def check_selector_labels(r: Report, parent: Mapping[str, Any] | None, key: str, path: str) -> None:
    """Empty keys and ``*`` in workload selector labels (both selector flavours)."""
    labels = r.str_map(parent, key, path)
    where = sub(path, key)
    for k, v in labels.items():
        if not k:
            r.add(
                where,
                k,
                f"empty key is not supported in selector: {q(f'{k}={v}')}",
                "Remove the label with the empty key",
            )
        if "*" in k or "*" in v:
            r.add(
                sub(where, k),
                v,
                f"wildcard is not supported in selector: {q(f'{k}={v}')}",
                "Select workloads by exact label keys and values",
            )


_PUBLIC, _PRIVATE, _NONE = "*", ".", "~"


def check_export_to(
    r: Report, spec: Mapping[str, Any], path: str, *, service_entry: bool = False, dr_with_selector: bool = False
) -> None:
    """istiod's ``validateExportTo``: ``.``, ``*``, namespace names, ``~`` only on ServiceEntry."""
    entries = r.strs(spec, "exportTo", path)
    if not entries:
        return
    where = sub(path, "exportTo")
    ns = r.namespace
    seen: set[str] = set()
    for i, entry in entries:
        item = f"{where}[{i}]"
        key = ns if entry == _PRIVATE else entry  # '.' and the own namespace are the same entry
        if key in seen:
            if key != entry:
                msg = f"duplicate entries in exportTo: . and current namespace {ns}"
            else:
                msg = f"duplicate entries in exportTo for entry {entry}"
            r.add(item, entry, msg, "Remove the duplicate exportTo entry")
        elif service_entry and entry == _NONE:
            seen.add(key)
        elif key == _NONE:
            r.add(
                item,
                entry,
                "exportTo ~ (none) is not allowed for Istio configuration objects",
                "Use '.' to keep the object in its namespace, or remove exportTo",
            )
        elif key not in (_PUBLIC, _PRIVATE) and not label_ok(key):
            r.add(
                item,
                entry,
                "only .,*, or a valid DNS 1123 label is allowed as exportTo entry",
                "Use '.', '*' or a namespace name",
            )
        else:
            seen.add(key)
    # Whole-list conflicts, in istiod's order, each reported against every entry.
    conflicts: list[tuple[str, str]] = []
    if dr_with_selector and seen:
        if ns not in seen:
            conflicts.append(("destination rule with workload selector cannot have exportTo beyond current namespace",
                              "Set exportTo to ['.'] or remove it"))
        elif len(seen) > 1:
            conflicts.append(("destination rule with workload selector cannot have multiple entries in exportTo",
                              "Set exportTo to ['.'] or remove it"))
    if _PUBLIC in seen and len(entries) > 1:
        conflicts.append(("cannot have both public (*) and non-public exportTo values for a resource",
                          "Use exportTo ['*'] alone, or list only the namespaces"))
    if _NONE in seen and len(entries) > 1:
        conflicts.append(("cannot export service entry to no one (~) and someone",
                          "Use exportTo ['~'] alone, or list only the namespaces"))
    for message, fix in conflicts:
        r.add(where, [e for _, e in entries], message, fix)


# -- hosts in `namespace/host` form (Gateway servers, Sidecar egress) -----------------------------


def check_namespace_slash_host(
    r: Report, host: str, path: str, *, gateway: bool, gateway_semantics: bool = False
) -> None:
    """istiod's ``ValidateNamespaceSlashWildcardHostname``."""
    ns, slash, name = host.partition("/")
    where = "gateway" if gateway else "sidecar"
    if not slash:
        if gateway:  # the old form without a namespace is still allowed on Gateways
            _check_host_part(r, host, host, path, gateway=True)
        else:
            r.add(
                path,
                host,
                "host must be of form namespace/dnsName",
                f"Write it as '*/{host}' (any namespace) or '<namespace>/{host}'",
            )
        return
    if not ns or not name:
        r.add(
            path,
            host,
            "config namespace and dnsName in host entry cannot be empty",
            "Write it as '<namespace>/<host>', e.g. '*/api.example.com'",
        )
    special = {"*", "."} | ({"~"} if not gateway or gateway_semantics else set())
    if ns not in special and not label_ok(ns):
        r.add(
            path, host, f"invalid namespace value {q(ns)} in {where}", "Use '*', '.' or a namespace name before the '/'"
        )
    _check_host_part(r, name, host, path, gateway=gateway)


def _check_host_part(r: Report, name: str, entry: str, path: str, *, gateway: bool) -> None:
    """The DNS-name part of a host entry; findings show the whole ``entry``."""
    if name != "*" and "." not in name:
        r.add(
            path,
            entry,
            "short names (non FQDN) are not allowed",
            "Use the fully qualified name, e.g. 'svc.ns.svc.cluster.local' or 'api.example.com'",
        )
    problem = wildcard_domain_problem(name)
    if problem is not None and not (gateway and is_ip(name)):  # Gateways also take an IP
        r.add(path, entry, problem, "Use a DNS name, optionally starting with '*.'")
    if "*" in name and len(name) != 1 and not name.startswith("*."):
        r.add(
            path,
            entry,
            f"partial wildcard {q(name)} not allowed",
            "Use '*' alone or a leading '*.' label, e.g. '*.example.com'",
        )


def check_gateway_names(
    r: Report, entries: list[tuple[int, str]], path: str, *, gateway_semantics: bool = False
) -> None:
    """istiod's ``validateGatewayNames`` for VirtualService ``gateways`` (and match gateways)."""
    for i, name in entries:
        item = f"{path}[{i}]"
        ns, slash, gw = name.partition("/")
        if not slash:
            problem = fqdn_problem(name)
            if problem is not None:
                r.add(item, name, problem, "Use 'mesh' or '<namespace>/<gateway name>'")
            # istiod stops at the first name without '/' (often 'mesh') and checks no further names.
            return
        if not ns or not gw:
            r.add(item, name, "config namespace and gateway name cannot be empty", "Use '<namespace>/<gateway name>'")
        if not label_ok(ns):
            r.add(item, name, f"invalid value for namespace: {q(ns)}", "Use a namespace name before the '/'")
        if not label_ok(gw) and not gateway_semantics:
            r.add(
                item, name, f"invalid value for gateway name: {q(gw)}", "Use the Gateway's metadata.name after the '/'"
            )
