"""AuthorizationPolicy (security.istio.io): istiod's ``ValidateAuthorizationPolicy``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ._syntax import check_selector_labels, is_ip, is_prefix
from ._walk import Report, at, empty_list, golist, nonempty, q, sub

ACTIONS = ("ALLOW", "DENY", "AUDIT", "CUSTOM")
_SOURCE_FIELDS = (
    "principals",
    "requestPrincipals",
    "namespaces",
    "ipBlocks",
    "remoteIpBlocks",
    "notPrincipals",
    "notRequestPrincipals",
    "notNamespaces",
    "notIpBlocks",
    "notRemoteIpBlocks",
    "serviceAccounts",
    "notServiceAccounts",
    "trustDomains",
    "notTrustDomains",
)
_OPERATION_FIELDS = ("ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts")
# Fields a CUSTOM (ext-authz) policy cannot match on yet, with istiod's names for them.
_CUSTOM_UNSUPPORTED_SOURCE = (
    "namespaces",
    "notNamespaces",
    "serviceAccounts",
    "notServiceAccounts",
    "trustDomains",
    "notTrustDomains",
    "principals",
    "notPrincipals",
    "requestPrincipals",
    "notRequestPrincipals",
)
_CUSTOM_UNSUPPORTED_WHEN = ("source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal")
_TARGET_KINDS = (
    ("core", "Service"),
    ("networking.istio.io", "ServiceEntry"),
    ("gateway.networking.k8s.io", "Gateway"),
    ("gateway.networking.k8s.io", "GatewayClass"),
)
_TARGETS_TEXT = golist(
    [
        "core/v1/Service",
        "networking.istio.io/v1/ServiceEntry",
        "gateway.networking.k8s.io/v1/Gateway",
        "gateway.networking.k8s.io/v1/GatewayClass",
    ]
)
_MEANINGLESS = (
    "{action} action without `rules` is meaningless as it will never be triggered, add an empty rule "
    "`{{}}` if you want it be triggered for every request"
)
_SOURCE_LABELS = {f: f[0].upper() + f[1:] for f in _SOURCE_FIELDS}
_OPERATION_LABELS = {f: f[0].upper() + f[1:] for f in _OPERATION_FIELDS}


def check_authorization_policy(r: Report, spec: Mapping[str, Any]) -> None:
    selector = r.obj(spec, "selector", "spec")
    target = r.obj(spec, "targetRef", "spec")
    targets = r.objs(spec, "targetRefs", "spec")
    if sum((selector is not None, target is not None, bool(targets))) > 1:
        r.add(
            "spec",
            None,
            "only one of targetRefs or workloadSelector can be set",
            "Keep one of selector, targetRef or targetRefs",
        )
    check_selector_labels(r, selector, "matchLabels", "spec.selector")
    if target is not None:
        _check_target(r, target, "spec.targetRef")
    for i, item in targets:
        if item is not None:
            _check_target(r, item, at("spec.targetRefs", i))

    action = r.enum(spec, "action", "spec", ACTIONS)
    provider = r.obj(spec, "provider", "spec")
    rules_given = not empty_list(spec, "rules")
    rules = r.objs(spec, "rules", "spec")
    if action == "CUSTOM":
        if not rules_given:
            r.add(
                "spec.rules",
                None,
                _MEANINGLESS.format(action="CUSTOM"),
                "Add rules; use rules: [{}] to send every request to the external authorizer",
            )
        elif provider is None or not r.text(provider, "name", "spec.provider"):
            r.add(
                "spec.provider.name",
                None,
                "`provider.name` must not be empty",
                "Name the extension provider from meshConfig.extensionProviders",
            )
        for i, rule in rules:
            _check_custom_rule(r, rule, at("spec.rules", i))
    if provider is not None and action not in ("CUSTOM", None):
        r.add(
            "spec.provider",
            provider,
            f"`provider` must not be with non CUSTOM action, found {action}",
            "Remove provider, or set action: CUSTOM",
        )
    if action == "DENY" and not rules_given:
        r.add(
            "spec.rules",
            None,
            _MEANINGLESS.format(action="DENY"),
            "Add the rules that select the requests to deny; rules: [{}] denies everything",
        )
    for i, rule in rules:
        path = at("spec.rules", i)
        if rule is None:
            r.add(path, None, f"`rule` must not be nil, found at rule {i}", "Remove the empty rule, or write {}")
            continue
        _check_from(r, rule, path, i)
        _check_to(r, rule, path, i)
        _check_when(r, rule, path)


def _check_target(r: Report, target: Mapping[str, Any], path: str) -> None:
    if not r.text(target, "name", path):
        r.add(sub(path, "name"), None, "targetRef name must be set", "Name the target object")
    namespace = r.text(target, "namespace", path)
    if namespace:
        r.add(
            sub(path, "namespace"),
            namespace,
            "targetRef namespace must not be set; cross namespace referencing is not supported",
            "Remove namespace and create the policy in the target's namespace",
        )
    group, kind = r.text(target, "group", path), r.text(target, "kind", path)
    if (group or "core", kind) not in _TARGET_KINDS:
        r.add(
            path,
            {"group": group, "kind": kind},
            f"targetRef must be to one of {_TARGETS_TEXT} but was {group}/{kind}",
            "Target a Service, ServiceEntry, Gateway (gateway.networking.k8s.io) or GatewayClass",
        )


def _check_custom_rule(r: Report, rule: Mapping[str, Any] | None, path: str) -> None:
    for i, item in r.objs(rule, "from", path):
        source = r.obj(item, "source", at(sub(path, "from"), i))
        for field in _CUSTOM_UNSUPPORTED_SOURCE:
            if source is not None and nonempty(source, field):
                r.add(
                    sub(sub(at(sub(path, "from"), i), "source"), field),
                    source[field],
                    f"From.{_SOURCE_LABELS[field]} is currently not supported with CUSTOM action",
                    "Match on ipBlocks, remoteIpBlocks or request attributes instead, or use ALLOW/DENY",
                )
    for where, when in r.entries(rule, "when", path, "when field cannot be nil", "Remove the empty when entry"):
        key = r.text(when, "key", where)
        if key in _CUSTOM_UNSUPPORTED_WHEN or key.startswith("request.auth."):
            r.add(
                sub(where, "key"),
                key,
                f"{key} is currently not supported with CUSTOM action",
                "Match on other attributes, or use an ALLOW/DENY policy for this condition",
            )


def _clauses(
    r: Report, rule: Mapping[str, Any], path: str, index: int, clause: str, field: str, example: str
) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The ``source`` of each ``from`` (the ``operation`` of each ``to``) with its path: istiod's
    ``ValidateAuthorizationPolicy`` rejects a nil clause and a clause without its inner object."""
    null = f"`{clause}` must not be nil, found at rule {index}"
    for where, item in r.entries(rule, clause, path, null, f"Remove the empty {clause} entry"):
        missing = f"`{clause}.{field}` must not be nil, found at rule {index}"
        inner = r.required(item, field, where, missing, f"Add {field}: {example}")
        if inner is not None:
            yield sub(where, field), inner


def _check_from(r: Report, rule: Mapping[str, Any], path: str, index: int) -> None:
    example = "{principals: [...]} (or namespaces, ipBlocks, ...)"
    for where, source in _clauses(r, rule, path, index, "from", "source", example):
        values = {f: r.strs(source, f, where) for f in _SOURCE_FIELDS}
        identity = sum(len(values[f]) for f in ("principals", "notPrincipals", "namespaces", "notNamespaces"))
        if identity and (values["serviceAccounts"] or values["notServiceAccounts"]):
            r.add(
                where,
                None,
                f"cannot set serviceAccounts with namespaces or principals, found at rule {index}",
                "Use serviceAccounts alone, or express them as principals",
            )
        if all(empty_list(source, f) for f in _SOURCE_FIELDS):
            r.add(
                where,
                None,
                f"`from.source` must not be empty, found at rule {index}",
                "Set at least one of principals, namespaces, serviceAccounts, ipBlocks, ...",
            )
        for field in ("ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"):
            _check_ips(r, values[field], sub(where, field))
        for field in _SOURCE_FIELDS:
            label = _SOURCE_LABELS[field]
            if field in ("serviceAccounts", "notServiceAccounts"):
                _report_first(r, where, field, values[field], _service_account_problem(label, values[field]))
            elif field in ("trustDomains", "notTrustDomains"):
                _report_first(r, where, field, values[field], _trust_domain_problem(label, values[field]))
            else:
                _report_first(r, where, field, values[field], _empty_problem(label, values[field]))


def _check_to(r: Report, rule: Mapping[str, Any], path: str, index: int) -> None:
    example = "{hosts: [...]} (or ports, methods, paths)"
    for where, operation in _clauses(r, rule, path, index, "to", "operation", example):
        values = {f: r.strs(operation, f, where) for f in _OPERATION_FIELDS}
        if all(empty_list(operation, f) for f in _OPERATION_FIELDS):
            r.add(
                where,
                None,
                f"`to.operation` must not be empty, found at rule {index}",
                "Set at least one of hosts, ports, methods or paths",
            )
        for field in ("ports", "notPorts"):
            for k, port in values[field]:
                problem = _port_problem(port)
                if problem is not None:
                    r.add(at(sub(where, field), k), port, problem, "Use a port number from 0 to 65535, as a string")
        for field in _OPERATION_FIELDS:
            _report_first(r, where, field, values[field], _empty_problem(_OPERATION_LABELS[field], values[field]))
        for field in ("paths", "notPaths"):
            _report_first(
                r, where, field, values[field], _path_template_problem(_OPERATION_LABELS[field], values[field])
            )


def _check_when(r: Report, rule: Mapping[str, Any], path: str) -> None:
    for j, when in r.objs(rule, "when", path):
        where = at(sub(path, "when"), j)
        key = r.text(when, "key", where)
        values = r.strs(when, "values", where)
        not_values = r.strs(when, "notValues", where)
        if not key:
            r.add(sub(where, "key"), None, "`key` must not be empty", "Set key, e.g. 'request.headers[x-team]'")
        elif empty_list(when, "values") and empty_list(when, "notValues"):
            r.add(
                where,
                None,
                f"at least one of `values` or `notValues` must be set for key {key}",
                "Add values or notValues",
            )
        else:
            for field, label, items in (("values", "value", values), ("notValues", "notValue", not_values)):
                problem = _attribute_problem(key, items)
                if problem is not None:
                    r.add(
                        sub(where, field),
                        [v for _, v in items],
                        f"invalid `{label}` for `key` {key}: {problem}",
                        _attribute_fix(key),
                    )


def _report_first(
    r: Report, path: str, field: str, items: list[tuple[int, str]], found: tuple[int, str] | None
) -> None:
    """istiod's security checks stop at the first bad value of a list."""
    if found is not None:
        k, message = found
        r.add(
            at(sub(path, field), k),
            items[k][1] if k < len(items) else None,
            message,
            "Remove the empty or malformed value",
        )


def _empty_problem(label: str, items: list[tuple[int, str]]) -> tuple[int, str] | None:
    for k, (_, value) in enumerate(items):
        if value == "":
            return k, f"empty value not allowed, found in {label}"
    return None


def _wildcard_problem(label: str, items: list[tuple[int, str]]) -> tuple[int, str] | None:
    empty = _empty_problem(label, items)
    if empty is not None:
        return empty
    for k, (_, value) in enumerate(items):
        stars = value.count("*")
        if stars > 1:
            return k, f"at most one wildcard is allowed, found in {label}: {q(value)}"
        if stars == 1 and value != "*" and not value.startswith("*") and not value.endswith("*"):
            return k, f"wildcard is only allowed at the start or end, found in {label}: {q(value)}"
    return None


def _trust_domain_problem(label: str, items: list[tuple[int, str]]) -> tuple[int, str] | None:
    found = _wildcard_problem(label, items)
    if found is not None:
        return found
    for k, (_, value) in enumerate(items):
        if "/" in value:
            return k, f"trust domain must not contain '/', found in {label}: {q(value)}"
    return None


def _service_account_problem(label: str, items: list[tuple[int, str]]) -> tuple[int, str] | None:
    if len(items) > 16:
        return 16, "may not have more than 16 values"
    form = "expected format 'serviceAccount' or 'namespace/serviceAccount', found"
    for k, (_, value) in enumerate(items):
        if value == "":
            return k, f"empty value not allowed, found in {label}"
        if "*" in value:
            return k, f"wildcard not allowed, found in {label}"
        if value.count("/") > 1:
            return k, f"{form} {q(value)} in {label}"
        if len(value) > 320:
            return k, f"value cannot exceed 320 characters, found {q(value)} in {label}"
        ns, slash, account = value.partition("/")
        if slash and not ns:
            return k, f"{form} empty namespace {q(value)} in {label}"
        if slash and not account:
            return k, f"{form} empty serviceAccount {q(value)} in {label}"
    return None


def _path_template_problem(label: str, items: list[tuple[int, str]]) -> tuple[int, str] | None:
    """``{*}`` / ``{**}`` path templates: whole segments only, ``{**}`` last, literal segments plain."""
    for k, (_, value) in enumerate(items):
        templated = "{*}" in value or "{**}" in value
        trimmed = value.strip("/")
        seen_any = False
        for glob in trimmed.split("/"):
            if glob in ("{*}", "{**}") and seen_any:
                return k, (f"invalid or unsupported path {trimmed}, found in {label}. {{**}} is not the last operator")
            if glob == "{**}":
                seen_any = True
                continue
            if glob == "{*}":
                continue
            if "{" in glob or "}" in glob:
                return k, (
                    f"invalid or unsupported path {trimmed}, found in {label}. Contains '{{' or '}}' "
                    "beyond a supported path template"
                )
            if templated and (not glob or not _LITERAL.issuperset(glob)):
                return k, (
                    f"invalid or unsupported path {trimmed}, found in {label}. Contains segment {glob} "
                    "with invalid string literal"
                )
    return None


_LITERAL = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()+,;:@=")


def _ip_problem(value: str) -> str | None:
    if "/" in value:
        return None if is_prefix(value) else f"bad CIDR range ({value}): netip.ParsePrefix({q(value)}): invalid prefix"
    return None if is_ip(value) else f"bad IP address ({value})"


def _check_ips(r: Report, items: list[tuple[int, str]], path: str) -> None:
    for k, value in items:
        problem = _ip_problem(value)
        if problem is not None:
            r.add(at(path, k), value, problem, "Use an IP address or a CIDR block such as 10.0.0.0/8")


def _port_problem(port: str) -> str | None:
    if not port.isascii() or not port.isdigit():
        return f"bad port ({port}): strconv.ParseUint: parsing {q(port)}: invalid syntax"
    if len(port) > 10 or int(port) > 65535:
        return f"bad port ({port}): it is above 65535"
    return None


def _map_key_problem(key: str) -> str | None:
    """``name[sub]`` form for header, claim and experimental attributes."""
    open_at = key.find("[")
    if key.endswith("]") and 0 < open_at < len(key) - 2:
        return None
    return f"bad key ({key}): should have format a[b]"


def _attribute_problem(key: str, items: list[tuple[int, str]]) -> str | None:
    """istiod's ``security.ValidateAttribute`` for a ``when`` condition."""
    empty = _empty_problem(key, items)
    if empty is not None:
        return empty[1]
    values = [v for _, v in items]
    if key.startswith(("request.headers", "request.auth.claims", "experimental.envoy.filters.")):
        return _map_key_problem(key)
    if key in ("source.ip", "remote.ip", "destination.ip"):
        return next((p for p in map(_ip_problem, values) if p is not None), None)
    if key == "source.serviceAccount":
        found = _service_account_problem(key, items)
        return None if found is None else found[1]
    if key == "source.trustDomain":
        found = _wildcard_problem(key, items)
        return None if found is None else found[1]
    if key == "destination.port":
        return next((p for p in map(_port_problem, values) if p is not None), None)
    if key in (
        "source.namespace",
        "source.principal",
        "request.auth.principal",
        "request.auth.audiences",
        "request.auth.presenter",
        "connection.sni",
    ):
        return None
    if key == "destination.namespace":
        return f"attribute {key} is replaced by the metadata.namespace"
    if key.startswith("destination.labels"):
        return f"attribute {key} is replaced by the workload selector"
    if key in ("destination.name", "destination.user"):
        return f"deprecated attribute {key}: only supported in v1alpha1"
    return f"unknown attribute: {key}"


def _attribute_fix(key: str) -> str:
    if key.startswith(("destination.", "source.", "remote.", "request.", "connection.", "experimental.")):
        return "Use values of the form this attribute takes (see the AuthorizationPolicy condition reference)"
    return (
        "Use a supported key: request.headers[<name>], source.ip, remote.ip, source.namespace, "
        "source.principal, source.serviceAccount, request.auth.principal, request.auth.claims[<claim>], "
        "destination.ip, destination.port, connection.sni"
    )
