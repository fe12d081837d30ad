"""HTTP headers in VirtualService rules: header names, add/set/remove operations, values with Envoy's
``%VARIABLE%`` syntax, CORS policies and the regex limits istiod applies to string matches."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._syntax import MS, check_duration
from ._walk import Report, at, q, sub

_TCHAR = re.compile(r"[!#$%&'*+\-.^_`|~A-Za-z0-9]+")
_PSEUDO_HEADERS = frozenset({":method", ":scheme", ":authority", ":path", ":status"})
_HEADER_VALUE_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_JWT_CLAIM = "@request.auth.claims"
_CORS_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"})
MAX_REGEX = 1024


def is_jwt_claim(name: str) -> bool:
    """``@request.auth.claims.a.b`` or ``@request.auth.claims[a][b]`` (routing on JWT claims)."""
    if not name.lower().startswith(_JWT_CLAIM):
        return False
    rest = name[len(_JWT_CLAIM) :]
    return (rest.startswith(".") and len(rest) > 1) or (rest.startswith("[") and rest.endswith("]") and len(rest) > 2)


def check_header_name(r: Report, name: str, path: str) -> None:
    """istiod's ``ValidateHTTPHeaderNameOrJwtClaimRoute``."""
    if not name:
        r.add(path, name, "header name cannot be empty", "Name the header")
    elif not is_jwt_claim(name) and name not in _PSEUDO_HEADERS and not _TCHAR.fullmatch(name):
        r.add(
            path,
            name,
            f"header name {name} is not a valid header name",
            "Use a header name of letters, digits and !#$%&'*+-.^_`|~",
        )


def check_regex(r: Report, regex: str, path: str, where: str) -> None:
    if regex == "":
        r.add(path, "", f"{q(where)}: regex string match should not be empty", "Give a regular expression")
    elif len(regex) > MAX_REGEX:
        r.add(
            path,
            regex,
            f"{q(where)}: regex is too large, max length allowed is {MAX_REGEX}",
            "Shorten the regular expression",
        )


def check_header_operations(r: Report, headers: Mapping[str, Any] | None, path: str) -> None:
    """istiod's checks of ``headers.request`` / ``headers.response`` add, set and remove."""
    for side in ("request", "response"):
        ops = r.obj(headers, side, path)
        where = sub(path, side)
        for verb in ("add", "set"):
            for name, value in r.str_map(ops, verb, where).items():
                item = sub(sub(where, verb), name)
                _check_header_operation_name(r, name, item, allow_authority=side == "request")
                _check_header_value(r, value, item)
        for i, name in r.strs(ops, "remove", where):
            _check_header_operation_name(r, name, at(sub(where, "remove"), i), allow_authority=False)


def _check_header_operation_name(r: Report, name: str, path: str, *, allow_authority: bool) -> None:
    internal = name.startswith(":") or name.lower() == "host"
    if not name:
        r.add(path, name, "header name cannot be empty", "Name the header")
    elif allow_authority:
        # request add/set may target the authority (`:authority` or `host`); other pseudo headers are off limits
        if internal and name.lower() not in (":authority", "host"):
            r.add(
                path,
                name,
                f'invalid header {q(name)}: header cannot have ":" prefix',
                "Use a regular header name, or rewrite.authority for the authority",
            )
    elif name.lower() == "host":
        r.add(path, name, f"invalid header {q(name)}: cannot set Host header", "Use rewrite.authority instead")
    elif internal:
        r.add(path, name, f'invalid header {q(name)}: header cannot have ":" prefix', "Use a regular header name")


def _check_header_value(r: Report, value: str, path: str) -> None:
    """istiod's ``ValidateHTTPHeaderValue``: no control characters, and ``%`` escapes Envoy can parse."""
    if _HEADER_VALUE_CONTROL.search(value):
        r.add(path, value, f"header value configuration {value} is invalid", "Remove control characters")
        return
    problem = _header_value_problem(value)
    if problem is not None:
        r.add(
            path,
            value,
            f"header value configuration: {problem}",
            "Write a literal '%' as '%%'; Envoy variables look like %HOSTNAME% or %REQ(x-header)%",
        )


def _header_value_problem(value: str) -> str | None:
    """A walk over ``%VAR%`` / ``%VAR(["arg", ...])%`` expressions, following Envoy's header parser."""
    state, pos = "literal", 0
    while pos < len(value):
        ch = value[pos]
        more = pos + 1 < len(value)
        if state == "literal":
            if ch == "%":
                if not more:
                    return "invalid header configuration. Un-escaped %"
                if value[pos + 1] == "%":
                    pos += 1  # '%%' is a literal '%'
                else:
                    state = "name"
        elif state == "name":
            state = {"%": "literal", "(": "array"}.get(ch, "name")
        elif state == "array":
            if ch == "[":
                state = "string_start"
            elif ch != " ":
                state = "string"
        elif state == "after_string":
            if ch == ",":
                state = "string_start"
            elif ch == "]":
                state = "args_end"
            elif ch != " ":
                return "invalid header configuration. Expecting ',', ']', or whitespace"
        elif state == "string_start":
            if ch == '"':
                state = "string"
            elif ch != " ":
                return "invalid header configuration. Expecting '\"'"
        elif state == "string":
            if ch == "\\":
                if not more:
                    return "invalid header configuration. Un-terminated backslash in JSON string"
                pos += 1
            elif ch == ")":
                state = "var_end"
            elif ch == '"':
                state = "after_string"
        elif state == "args_end":
            if ch == ")":
                state = "var_end"
            elif ch != " ":
                return "invalid header configuration. Expecting ')' or whitespace after '{}', but found '{}'"
        elif state == "var_end":
            if ch == "%":
                state = "literal"
            elif ch != " ":
                return "invalid header configuration. Expecting '%' or whitespace after"
        pos += 1
    if state != "literal":
        return f"invalid header configuration. Un-terminated variable expression '{value}'"
    return None


def check_cors(r: Report, cors: Mapping[str, Any] | None, path: str) -> None:
    if cors is None:
        return
    for i, origin in r.objs(cors, "allowOrigins", path):
        where = at(sub(path, "allowOrigins"), i)
        text = next(
            (
                origin.get(k)
                for k in ("exact", "prefix", "regex")
                if isinstance(origin, Mapping) and isinstance(origin.get(k), str)
            ),
            "",
        )
        if not text:
            r.add(
                where,
                origin,
                f"'{text}' is not a valid match type for CORS allow origins",
                "Give the origin as {exact: 'https://example.com'}, {prefix: ...} or {regex: ...}",
            )
        elif isinstance(origin, Mapping) and isinstance(origin.get("regex"), str):
            check_regex(r, origin["regex"], sub(where, "regex"), "corsPolicy.allowOrigins")
    for i, method in r.strs(cors, "allowMethods", path):
        if method not in _CORS_METHODS:
            r.add(
                at(sub(path, "allowMethods"), i),
                method,
                f"{q(method)} is not a supported HTTP method",
                "Use GET, HEAD, POST, PUT, PATCH, DELETE, CONNECT, OPTIONS, TRACE or *",
            )
    for field in ("allowHeaders", "exposeHeaders"):
        for i, name in r.strs(cors, field, path):
            where = at(sub(path, field), i)
            if not name:
                r.add(where, name, "header name cannot be empty", "Name the header")
            elif name != "*" and not _TCHAR.fullmatch(name):
                r.add(
                    where,
                    name,
                    f"header name {name} is not a valid header name",
                    "Use a header name of letters, digits and !#$%&'*+-.^_`|~",
                )
    if cors.get("maxAge") is not None:
        ns = check_duration(r, cors, "maxAge", path)
        if ns is not None and ns % (1000 * MS) > 0:
            r.add(
                sub(path, "maxAge"),
                cors["maxAge"],
                "max_age duration is accurate only to seconds precision",
                "Use whole seconds, e.g. '86400s'",
            )
