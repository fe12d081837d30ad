"""VirtualService ``http`` routes: istiod's ``validateHTTPRoute`` and the checks it calls (headers are in
:mod:`._headers`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from ._headers import MAX_REGEX, check_cors, check_header_name, check_header_operations, check_regex
from ._resilience import check_fault, check_retries
from ._syntax import (
    PORT_FIX,
    check_duration,
    check_gateway_names,
    check_labels,
    label_ok,
    port_problem,
    wildcard_domain_problem,
)
from ._walk import Report, at, empty_list, is_array, q, sub

_MB = 1024 * 1024


def check_destination(r: Report, destination: Mapping[str, Any], path: str) -> None:
    """istiod's ``validateDestination``."""
    host = r.text(destination, "host", path)
    if host == "*":
        r.add(
            sub(path, "host"),
            host,
            f"invalid destination host {host}",
            "Route to a named host, e.g. the ServiceEntry host or the egress gateway service",
        )
    else:
        problem = wildcard_domain_problem(host)
        if problem is not None:
            r.add(
                sub(path, "host"),
                host or None,
                problem,
                "Route to a named host, e.g. the ServiceEntry host or the egress gateway service",
            )
    subset = r.string(destination, "subset", path)
    _check_label(r, subset, sub(path, "subset"), f"subset name is invalid: {subset}",
                 "Use the name of a DestinationRule subset (lower-case letters, digits and '-')")
    port = r.obj(destination, "port", path)
    if port is not None:
        number = r.integer(port, "number", sub(path, "port")) or 0
        if port_problem(number):
            r.add(sub(sub(path, "port"), "number"), number, str(port_problem(number)), PORT_FIX)


def check_http_route(
    r: Report, route: Mapping[str, Any], path: str, *, delegate: bool, gateway_semantics: bool
) -> None:
    _check_conflicts(r, route, path, delegate=delegate)
    _check_matches(r, route, path)
    check_header_operations(r, r.obj(route, "headers", path), sub(path, "headers"))
    check_cors(r, r.obj(route, "corsPolicy", path), sub(path, "corsPolicy"))
    check_fault(r, r.obj(route, "fault", path), sub(path, "fault"))
    mirror_percent = r.integer(route, "mirrorPercent", path)
    if mirror_percent is not None and mirror_percent > 100:
        r.add(
            sub(path, "mirrorPercent"),
            mirror_percent,
            f"mirror_percent must have a max value of 100 (it has {mirror_percent})",
            "Use a value from 0 to 100",
        )
    _check_mirror_percentage(r, route, "mirrorPercentage", path, "mirror_percentage")
    mirror = r.obj(route, "mirror", path)
    if mirror is not None:
        check_destination(r, mirror, sub(path, "mirror"))
    _check_mirrors(r, route, path)
    _check_redirect(r, r.obj(route, "redirect", path), sub(path, "redirect"))
    _check_direct_response(r, r.obj(route, "directResponse", path), sub(path, "directResponse"))
    check_retries(r, r.obj(route, "retries", path), sub(path, "retries"))
    rewrite = r.obj(route, "rewrite", path)
    _check_rewrite(r, rewrite, sub(path, "rewrite"))
    _check_authority_rewrite(r, rewrite, r.obj(route, "headers", path), path)
    check_route_destinations(r, route, path, gateway_semantics, headers=True)
    if route.get("timeout") is not None:
        check_duration(r, route, "timeout", path)


def _check_conflicts(r: Report, route: Mapping[str, Any], path: str, *, delegate: bool) -> None:
    """istiod's ``validateHTTPRouteConflict``: route, redirect, directResponse and delegate exclude each other."""
    name = r.text(route, "name", path)
    has = {
        f: route.get(f) is not None
        for f in ("redirect", "directResponse", "fault", "rewrite", "delegate", "route", "mirror")
    }
    routes = not empty_list(route, "route")  # a wrongly typed list counts as given
    fix = "Keep one of route, redirect or directResponse in this http rule"
    if not delegate and has["delegate"]:
        # A rule that delegates may only carry matches; the delegate VirtualService does the rest.
        if has["redirect"]:
            r.add(
                sub(path, "redirect"),
                None,
                f"root HTTP route {name} must not specify redirect",
                "Remove redirect; the delegate VirtualService routes the request",
            )
        if routes:
            r.add(
                sub(path, "route"),
                None,
                f"root HTTP route {name} must not specify route",
                "Remove route; the delegate VirtualService routes the request",
            )
        return
    if delegate and has["delegate"]:
        r.add(
            sub(path, "delegate"),
            route["delegate"],
            "delegate HTTP route cannot contain delegate",
            "Remove delegate: delegation is one level deep",
        )
    if has["redirect"]:
        if routes:
            r.add(path, None, "HTTP route cannot contain both route and redirect", fix)
        if has["fault"]:
            r.add(path, None, "HTTP route cannot contain both fault and redirect", "Remove fault or redirect")
        if has["rewrite"]:
            r.add(path, None, "HTTP route rule cannot contain both rewrite and redirect", "Remove rewrite or redirect")
        if has["directResponse"]:
            r.add(path, None, "HTTP route rule cannot contain both direct_response and redirect", fix)
    elif has["directResponse"]:
        if routes:
            r.add(path, None, "HTTP route cannot contain both route and direct_response", fix)
        if has["fault"]:
            r.add(
                path, None, "HTTP route cannot contain both fault and direct_response", "Remove fault or directResponse"
            )
        if has["rewrite"]:
            r.add(
                path,
                None,
                "HTTP route rule cannot contain both rewrite and direct_response",
                "Remove rewrite or directResponse",
            )
    elif not routes:
        r.add(
            sub(path, "route"),
            None,
            "HTTP route, redirect or direct_response is required",
            "Add route: [{destination: {host: <host>}}]",
        )
    if has["mirror"] and not empty_list(route, "mirrors") and is_array(route["mirrors"]):
        r.add(path, None, "HTTP route cannot contain both mirror and mirrors", "Move mirror into mirrors")


def _check_matches(r: Report, route: Mapping[str, Any], path: str) -> None:
    """istiod's ``validateHTTPRouteMatchRequest``."""
    for i, match in r.objs(route, "match", path):
        where = at(sub(path, "match"), i)
        if match is None:
            continue
        headers = r.obj(match, "headers", where)
        for name, value in (headers or {}).items():
            item = sub(sub(where, "headers"), str(name))
            if value is None:
                r.add(item, None, f"header match {name} cannot be null", "Give the header a match, e.g. {exact: v}")
            check_header_name(r, str(name), item)
            _check_string_match(r, headers, str(name), sub(where, "headers"), "headers")
        without = r.obj(match, "withoutHeaders", where)
        for name, value in (without or {}).items():
            item = sub(sub(where, "withoutHeaders"), str(name))
            check_header_name(r, str(name), item)
            # regex '*' here means "the header is present", not a regular expression
            if isinstance(value, Mapping) and value.get("regex") != "*":
                _check_string_match(r, without, str(name), sub(where, "withoutHeaders"), "withoutHeaders")
        _check_string_match(r, match, "uri", where, "uri", regex_only=True)
        for field in ("scheme", "method", "authority"):
            _check_string_match(r, match, field, where, field)
        params = r.obj(match, "queryParams", where)
        for name in params or {}:
            _check_string_match(r, params, str(name), sub(where, "queryParams"), "queryParams")
        port = r.integer(match, "port", where) or 0
        if port != 0 and port_problem(port):
            r.add(sub(where, "port"), port, str(port_problem(port)), PORT_FIX)
        check_labels(r, match, "sourceLabels", where)
        check_gateway_names(r, r.strs(match, "gateways", where), sub(where, "gateways"))
        source_ns = r.text(match, "sourceNamespace", where)
        _check_label(r, source_ns, sub(where, "sourceNamespace"), f"sourceNamespace match {source_ns} is invalid",
                     "Use a namespace name")


def _check_string_match(
    r: Report, parent: Mapping[str, Any] | None, key: str, path: str, where: str, *, regex_only: bool = False
) -> None:
    """istiod's ``validateStringMatch``: an empty prefix or regex, or a regex too long for Envoy.

    istiod also compiles the regex with Go's RE2 engine; Python's engine differs, so that part is
    left to istiod rather than risk rejecting a valid pattern.
    """
    match = r.obj(parent, key, path)
    if match is None:
        return
    item = sub(path, key)
    prefix = r.string(match, "prefix", item)
    if not regex_only and prefix == "":
        r.add(
            sub(item, "prefix"),
            "",
            f"{q(where)}: prefix string match should not be empty",
            "Give the prefix at least one character, or remove the match",
        )
    regex = r.string(match, "regex", item)
    if regex is not None:
        check_regex(r, regex, sub(item, "regex"), where)


def _check_mirror_percentage(r: Report, parent: Mapping[str, Any], key: str, path: str, label: str) -> None:
    value = r.number(r.obj(parent, key, path), "value", sub(path, key))
    if value is not None and value > 100:
        r.add(
            sub(sub(path, key), "value"),
            value,
            f"{label} must have a max value of 100 (it has {value:f})",
            "Use a value from 0 to 100",
        )
    if value is not None and value < 0:
        r.add(
            sub(sub(path, key), "value"),
            value,
            f"{label} must have a min value of 0 (it has {value:f})",
            "Use a value from 0 to 100",
        )


def _check_mirrors(r: Report, route: Mapping[str, Any], path: str) -> None:
    for where, mirror in r.entries(route, "mirrors", path, "mirror cannot be null", "Remove the empty mirrors entry"):
        destination = r.required(
            mirror, "destination", where, "destination is required for mirrors", "Add destination: {host: <host>}"
        )
        if destination is None:
            continue
        check_destination(r, destination, sub(where, "destination"))
        _check_mirror_percentage(r, mirror, "percentage", where, "mirror percentage")


def _check_redirect(r: Report, redirect: Mapping[str, Any] | None, path: str) -> None:
    if redirect is None:
        return
    uri, authority, scheme = (r.text(redirect, f, path) for f in ("uri", "authority", "scheme"))
    has_port = redirect.get("port") is not None or redirect.get("derivePort") is not None
    if not (uri or authority or has_port or scheme):
        r.add(
            path,
            redirect,
            "redirect must specify URI, authority, scheme, or port",
            "Set redirect.uri, authority, scheme or port",
        )
        return
    code = r.integer(redirect, "redirectCode", path) or 0
    if code != 0 and not 300 <= code <= 399:
        r.add(sub(path, "redirectCode"), code, f"{code} is not a valid redirect code, must be 3xx", "Use 301 or 302")
        return
    if scheme and scheme not in ("http", "https"):
        r.add(sub(path, "scheme"), scheme, 'invalid redirect scheme, must be "http" or "https"', "Use http or https")
        return
    port = r.integer(redirect, "port", path) or 0
    if port > 0 and port_problem(port):
        r.add(sub(path, "port"), port, str(port_problem(port)), PORT_FIX)
    r.enum(redirect, "derivePort", path, ("FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"))


def _check_direct_response(r: Report, response: Mapping[str, Any] | None, path: str) -> None:
    if response is None:
        return
    body = r.obj(response, "body", path)
    if body is not None:
        size = len(r.text(body, "string", sub(path, "body")).encode())
        raw = r.string(body, "bytes", sub(path, "body"))
        if raw is not None:
            try:
                size = len(base64.b64decode(raw, validate=False))
            except (binascii.Error, ValueError):
                size = len(raw)
        if size > _MB:
            r.add(
                sub(path, "body"),
                None,
                "large direct_responses may impact control plane performance, must be less than 1MB",
                "Keep directResponse bodies under 1MB",
            )
    status = r.integer(response, "status", path) or 0
    if not 200 <= status <= 600:
        r.add(
            sub(path, "status"), status, f"HTTP status {status} is not in range 200-599", "Use a status from 200 to 599"
        )


def _check_rewrite(r: Report, rewrite: Mapping[str, Any] | None, path: str) -> None:
    if rewrite is None:
        return
    uri = r.text(rewrite, "uri", path)
    regex = r.obj(rewrite, "uriRegexRewrite", path)
    if uri and regex is not None:
        r.add(path, rewrite, "rewrite may only contain one of URI or UriRegexRewrite", "Remove uri or uriRegexRewrite")
        return
    if not uri and regex is None and not r.text(rewrite, "authority", path):
        r.add(
            path,
            rewrite,
            "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or "
            "UriRegexRewrite may be specified",
            "Set rewrite.uri, rewrite.uriRegexRewrite or rewrite.authority, or remove rewrite",
        )
        return
    if regex is not None:
        where = sub(path, "uriRegexRewrite")
        match, replacement = r.text(regex, "match", where), r.text(regex, "rewrite", where)
        if not match or not replacement:
            r.add(
                where,
                regex,
                "UriRegexRewrite has errors: UriRegexRewrite requires both Rewrite and Match fields to be specified",
                "Set both uriRegexRewrite.match and uriRegexRewrite.rewrite",
            )
        elif len(match) > MAX_REGEX:
            r.add(
                sub(where, "match"),
                match,
                "UriRegexRewrite has errors: "
                f'"HTTPRewrite.UriRegexRewrite.Match": regex is too large, max length allowed is {MAX_REGEX}',
                "Shorten the regular expression",
            )


def _check_authority_rewrite(
    r: Report, rewrite: Mapping[str, Any] | None, headers: Mapping[str, Any] | None, path: str
) -> None:
    """The authority may be rewritten once: by rewrite.authority or one ``:authority``/``host`` header."""
    current = r.text(rewrite, "authority", sub(path, "rewrite")) if rewrite is not None else ""
    request = r.obj(headers, "request", sub(path, "headers"))
    for verb in ("set", "add"):
        for name, value in r.str_map(request, verb, sub(sub(path, "headers"), "request")).items():
            if name.lower() not in (":authority", "host"):
                continue
            if current:
                r.add(
                    sub(sub(sub(sub(path, "headers"), "request"), verb), name),
                    value,
                    f"authority header cannot be set multiple times: have {q(current)}, attempting to set {q(value)}",
                    "Set the authority in one place only (rewrite.authority or one header)",
                )
                return
            current = value


def check_route_destinations(
    r: Report, route: Mapping[str, Any], path: str, gateway_semantics: bool, *, headers: bool = False
) -> None:
    """istiod's ``validateHTTPRouteDestinations`` (``headers=True``: http routes may set header
    operations per destination) and ``validateRouteDestinations`` (tls and tcp routes)."""
    total = 0
    items = r.objs(route, "route", path)
    for i, item in items:
        where = at(sub(path, "route"), i)
        if item is None:
            r.add(where, None, "weight may not be nil", "Remove the empty route entry")
            continue
        fix = "Add destination: {host: <host>, port: {number: <port>}}"
        destination = r.required(item, "destination", where, "destination is required", fix)
        if headers:
            check_header_operations(r, r.obj(item, "headers", where), sub(where, "headers"))
        if destination is not None and not gateway_semantics:
            check_destination(r, destination, sub(where, "destination"))
        weight = r.integer(item, "weight", where) or 0
        if weight < 0:
            r.add(sub(where, "weight"), weight, f"weight {weight} < 0", "Use a weight of 0 or more")
        total += weight
    if len(items) > 1 and total == 0:
        r.add(
            sub(path, "route"), None, "total destination weight = 0", "Give at least one destination a positive weight"
        )


def _check_label(r: Report, value: str | None, path: str, message: str, fix: str) -> None:
    """A subset name or a namespace: istiod's ``labels.IsDNS1123Label`` when set."""
    if value and not label_ok(value):
        r.add(path, value, message, fix)
