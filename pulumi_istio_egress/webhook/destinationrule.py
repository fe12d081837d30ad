"""DestinationRule (networking.istio.io): istiod's ``ValidateDestinationRule`` and traffic policies."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._locality import check_locality_lb
from ._syntax import (
    MS,
    PORT_FIX,
    check_duration,
    check_export_to,
    check_labels,
    check_selector_labels,
    duration,
    fqdn_problem,
    ip_problem,
    label_ok,
    port_problem,
    wildcard_domain_problem,
)
from ._tls import check_client_tls
from ._walk import Report, at, empty_list, present, sub

_POLICY_FIELDS = (
    "outlierDetection",
    "connectionPool",
    "loadBalancer",
    "tls",
    "portLevelSettings",
    "tunnel",
    "proxyProtocol",
    "retryBudget",
)
_PORT_POLICY_FIELDS = ("outlierDetection", "connectionPool", "loadBalancer", "tls")
_MAGLEV_LIMIT = 5000011


def check_destination_rule(r: Report, spec: Mapping[str, Any]) -> None:
    host = r.text(spec, "host", "spec")
    problem = wildcard_domain_problem(host)
    if problem is not None:
        r.add(
            "spec.host",
            host or None,
            problem,
            "Set host to the service or ServiceEntry host, e.g. 'api.example.com' or "
            "'istio-egressgateway.istio-system.svc.cluster.local'",
        )
    check_traffic_policy(r, r.obj(spec, "trafficPolicy", "spec"), "spec.trafficPolicy")
    names: set[str] = set()
    for path, subset in r.entries(spec, "subsets", "spec", "subset may not be null", "Remove the empty subset entry"):
        name = r.text(subset, "name", path)
        if name in names:
            r.add(sub(path, "name"), name, f"duplicate subset names: {name}", "Give every subset its own name")
        names.add(name)
        if not name:
            r.add(sub(path, "name"), None, "subset name cannot be empty", "Name the subset, e.g. 'egress'")
        elif not label_ok(name):
            r.add(
                sub(path, "name"),
                name,
                f"subset name is invalid: {name}",
                "Use lower-case letters, digits and '-' (at most 63 characters)",
            )
        check_labels(r, subset, "labels", path)
        check_traffic_policy(r, r.obj(subset, "trafficPolicy", path), sub(path, "trafficPolicy"))
    selector = r.obj(spec, "workloadSelector", "spec")
    check_export_to(r, spec, "spec", dr_with_selector=selector is not None)
    check_selector_labels(r, selector, "matchLabels", "spec.workloadSelector")


def check_traffic_policy(r: Report, policy: Mapping[str, Any] | None, path: str) -> None:
    """istiod's ``validateTrafficPolicy``."""
    if policy is None:
        return
    # `portLevelSettings: []` decodes to the same empty list as an absent field
    if all(empty_list(policy, f) if f == "portLevelSettings" else policy.get(f) is None for f in _POLICY_FIELDS):
        r.add(
            path,
            policy,
            "traffic policy must have at least one field",
            "Remove the empty trafficPolicy, or set tls, loadBalancer, connectionPool or outlierDetection",
        )
        return
    if present(policy, "tunnel") and present(policy, "proxyProtocol"):
        r.add(path, None, "tunnel and proxyProtocol must not be set together", "Remove tunnel or proxyProtocol")
        return
    _check_policy_settings(r, policy, path)
    _check_port_policies(r, policy, path)
    _check_tunnel(r, r.obj(policy, "tunnel", path), sub(path, "tunnel"))
    r.enum(r.obj(policy, "proxyProtocol", path), "version", sub(path, "proxyProtocol"), ("V1", "V2"))


def _check_port_policies(r: Report, policy: Mapping[str, Any], path: str) -> None:
    null, fix = "traffic policy may not be null", "Remove the empty portLevelSettings entry"
    for where, item in r.entries(policy, "portLevelSettings", path, null, fix):
        fix = "Add port: {number: <port>} to say which port the settings are for"
        r.required(item, "port", where, "portTrafficPolicy must have valid port", fix)
        if not any(item.get(f) is not None for f in _PORT_POLICY_FIELDS):
            r.add(
                where,
                item,
                "port traffic policy must have at least one field",
                "Set tls, loadBalancer, connectionPool or outlierDetection for the port, or remove the entry",
            )
            continue
        _check_policy_settings(r, item, where)


def _check_policy_settings(r: Report, policy: Mapping[str, Any], path: str) -> None:
    """The settings a traffic policy and a port-level policy share (istiod validates both alike)."""
    outlier = r.obj(policy, "outlierDetection", path)
    _check_outlier(r, outlier, sub(path, "outlierDetection"))
    check_connection_pool(r, r.obj(policy, "connectionPool", path), sub(path, "connectionPool"))
    _check_load_balancer(r, r.obj(policy, "loadBalancer", path), outlier, sub(path, "loadBalancer"))
    check_client_tls(r, r.obj(policy, "tls", path), sub(path, "tls"))


def _check_percent(r: Report, parent: Mapping[str, Any], key: str, path: str) -> None:
    r.integer_in(parent, key, path, (0, 100), "percentage {} is not in range 0..100", "Use a percentage from 0 to 100")


def _check_outlier(r: Report, outlier: Mapping[str, Any] | None, path: str) -> None:
    if outlier is None:
        return
    check_duration(r, outlier, "baseEjectionTime", path)
    local_failures = r.integer(outlier, "consecutiveLocalOriginFailures", path) or 0
    if local_failures > 0 and not r.flag(outlier, "splitExternalLocalOriginErrors", path):
        r.add(
            sub(path, "consecutiveLocalOriginFailures"),
            local_failures,
            "outlier detection consecutive local origin failures is specified, but split external local "
            "origin errors is set to false",
            "Set splitExternalLocalOriginErrors: true, or remove consecutiveLocalOriginFailures",
        )
    check_duration(r, outlier, "interval", path)
    _check_percent(r, outlier, "maxEjectionPercent", path)
    _check_percent(r, outlier, "minHealthPercent", path)


_NON_NEGATIVE_HTTP = (
    ("http1MaxPendingRequests", "http1 max pending requests"),
    ("http2MaxRequests", "http2 max requests"),
    ("maxRequestsPerConnection", "max requests per connection"),
    ("maxRetries", "max retries"),
)


def check_connection_pool(r: Report, pool: Mapping[str, Any] | None, path: str) -> None:
    """istiod's ``validateConnectionPool`` (DestinationRule and Sidecar inbound pools)."""
    if pool is None:
        return
    http = r.obj(pool, "http", path)
    tcp = r.obj(pool, "tcp", path)
    if http is None and tcp is None:
        r.add(
            path,
            pool,
            "connection pool must have at least one field",
            "Set connectionPool.http or connectionPool.tcp, or remove connectionPool",
        )
        return
    if http is not None:
        where = sub(path, "http")
        for field, label in _NON_NEGATIVE_HTTP:
            _non_negative(r, http, field, where, label)
        check_duration(r, http, "idleTimeout", where)
        upgrade = r.enum(http, "h2UpgradePolicy", where, ("DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"))
        if upgrade == "UPGRADE" and r.flag(http, "useClientProtocol", where):
            r.add(
                sub(where, "useClientProtocol"),
                True,
                "use client protocol must not be true when H2UpgradePolicy is UPGRADE",
                "Remove useClientProtocol or h2UpgradePolicy: UPGRADE",
            )
        _non_negative(r, http, "maxConcurrentStreams", where, "max concurrent streams")
    if tcp is not None:
        where = sub(path, "tcp")
        _non_negative(r, tcp, "maxConnections", where, "max connections")
        check_duration(r, tcp, "connectTimeout", where)
        check_duration(r, tcp, "maxConnectionDuration", where)
        idle = duration(r, tcp, "idleTimeout", where)
        # 0s turns the idle timeout off; anything else must be a valid duration.
        if idle is not None and abs(idle) >= MS:
            check_duration(r, tcp, "idleTimeout", where)
        keepalive = r.obj(tcp, "tcpKeepalive", where)
        check_duration(r, keepalive, "time", sub(where, "tcpKeepalive"))
        check_duration(r, keepalive, "interval", sub(where, "tcpKeepalive"))


def _non_negative(r: Report, parent: Mapping[str, Any], key: str, path: str, label: str) -> None:
    value = r.integer(parent, key, path)
    if value is not None and value < 0:
        r.add(sub(path, key), value, f"{label} must be non-negative", "Use 0 or a positive number")


def _check_load_balancer(r: Report, lb: Mapping[str, Any] | None, outlier: Mapping[str, Any] | None, path: str) -> None:
    if lb is None:
        return
    r.enum(lb, "simple", path, ("UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"))
    hashing = r.obj(lb, "consistentHash", path)
    if hashing is not None:
        _check_consistent_hash(r, hashing, sub(path, "consistentHash"))
    check_locality_lb(r, r.obj(lb, "localityLbSetting", path), outlier, sub(path, "localityLbSetting"))
    warmup = r.obj(lb, "warmup", path)
    if warmup is not None:
        where = sub(path, "warmup")
        if warmup.get("duration") is None:
            r.add(sub(where, "duration"), None, "duration is required", "Set warmup.duration, e.g. '60s'")
        else:
            check_duration(r, warmup, "duration", where)
        minimum = r.number(warmup, "minimumPercent", where)
        if minimum is not None and minimum > 100:
            r.add(
                sub(where, "minimumPercent"),
                minimum,
                "minimumPercent value should be less than or equal to 100",
                "Use a value from 0 to 100",
            )
        aggression = r.number(warmup, "aggression", where)
        if aggression is not None and aggression < 1:
            r.add(
                sub(where, "aggression"),
                aggression,
                "aggression should be greater than or equal to 1",
                "Use an aggression of 1 (linear) or more",
            )


def _check_consistent_hash(r: Report, hashing: Mapping[str, Any], path: str) -> None:
    cookie = r.obj(hashing, "httpCookie", path)
    if cookie is not None:
        where = sub(path, "httpCookie")
        if not r.text(cookie, "name", where):
            r.add(sub(where, "name"), None, "name required for HttpCookie", "Set httpCookie.name")
        seen: set[str] = set()
        for i, attr in r.objs(cookie, "attributes", where):
            name = r.text(attr, "name", at(sub(where, "attributes"), i))
            item = sub(at(sub(where, "attributes"), i), "name")
            if not name:
                r.add(item, None, "cookie attribute name cannot be empty", "Name the cookie attribute")
            elif name in seen:
                r.add(item, name, f"duplicate cookie attribute name: {name}", "List each cookie attribute once")
            seen.add(name)
    ring = r.integer(hashing, "minimumRingSize", path) or 0
    if ring != 0 and (present(hashing, "maglev") or present(hashing, "ringHash")):
        r.add(
            sub(path, "minimumRingSize"),
            ring,
            "only one of MinimumRingSize or Maglev/Ringhash can be specified",
            "Remove the deprecated minimumRingSize and use ringHash.minimumRingSize",
        )
    maglev = r.obj(hashing, "maglev", path)
    if maglev is not None:
        size = r.integer(maglev, "tableSize", sub(path, "maglev")) or 0
        where = sub(sub(path, "maglev"), "tableSize")
        fix = "Use a prime table size below 5000011, e.g. 65537"
        if size == 0:
            r.add(where, None, "tableSize must be set for maglev", fix)
        if size >= _MAGLEV_LIMIT:
            r.add(where, size, f"tableSize must be less than {_MAGLEV_LIMIT} for maglev", fix)
        if not _is_prime(size):
            r.add(where, size, "tableSize must be a prime number for maglev", fix)


def _is_prime(n: int) -> bool:
    """Deterministic Miller-Rabin (exact for 64-bit values); 1 counts as prime, as in Envoy's check."""
    if 0 < n < 4:
        return True
    if n <= 0 or n % 2 == 0:
        return False
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if a % n == 0:
            continue
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _check_tunnel(r: Report, tunnel: Mapping[str, Any] | None, path: str) -> None:
    if tunnel is None:
        return
    proto = r.text(tunnel, "protocol", path)
    if proto not in ("", "CONNECT", "POST"):
        r.add(sub(path, "protocol"), proto, 'tunnel protocol must be "CONNECT" or "POST"', "Use CONNECT or POST")
    target = r.text(tunnel, "targetHost", path)
    fqdn, ip = fqdn_problem(target), ip_problem(target)
    if fqdn is not None and ip is not None:
        r.add(
            sub(path, "targetHost"),
            target,
            f"tunnel target host must be valid FQDN or IP address: {fqdn}; {ip}",
            "Use the tunnel proxy's host name or IP address",
        )
    port = r.integer(tunnel, "targetPort", path) or 0
    if port_problem(port):
        r.add(sub(path, "targetPort"), port, f"tunnel target port is invalid: {port_problem(port)}", PORT_FIX)
