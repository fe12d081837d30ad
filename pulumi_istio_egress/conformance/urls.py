"""Go's ``net/url`` parsing and Kubernetes' CEL URL library (``url``, ``isURL``, ``getScheme``...)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from ..gosyntax import go_quote
from .messages import CelError

# Go's net/url, as ParseRequestURI (Kubernetes' url()/isURL()) and Parse (the URL getters) see it.
_HOST_OK = frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_OK = frozenset("-._:~!$&'()*+,;=%@")
_PATH_OK = frozenset("-_.~!$&'()*+,;=:@/[]%")


def _url_fail(raw: str, why: str) -> CelError:
    return CelError(f"URL parse error during conversion from string: parse {go_quote(raw)}: {why}")


def _check_escapes(raw: str, part: str, host: bool) -> None:
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "%":
            esc = part[i : i + 3]
            if len(esc) < 3 or not all(c in "0123456789abcdefABCDEF" for c in esc[1:]):
                raise _url_fail(raw, f"invalid URL escape {go_quote(esc)}")
            if host and int(esc[1], 16) < 8 and esc != "%25":
                raise _url_fail(raw, f"invalid URL escape {go_quote(esc)}")
            i += 3
            continue
        if host and ch.isascii() and not ch.isalnum() and ch not in _HOST_OK:
            raise _url_fail(raw, f"invalid character {go_quote(ch)} in host name")
        i += 1


def parse_url(raw: str, via_request: bool) -> dict[str, str]:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        raise _url_fail(raw, "net/url: invalid control character in URL")
    rest = raw
    if not via_request:
        rest, _, fragment = rest.partition("#")
        _check_escapes(raw, fragment, host=False)
    if via_request and not rest:
        raise _url_fail(raw, "empty url")
    if rest == "*":
        return {"scheme": "", "host": "", "path": "*", "query": ""}
    scheme = ""
    for i, ch in enumerate(rest):
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if i == 0:
                break
            continue
        if ch == ":":
            if i == 0:
                raise _url_fail(raw, "missing protocol scheme")
            scheme, rest = rest[:i].lower(), rest[i + 1 :]
        break
    if rest.endswith("?") and rest.count("?") == 1:
        rest, query = rest[:-1], ""
    else:
        rest, _, query = rest.partition("?")
    if not rest.startswith("/"):
        if scheme:
            return {"scheme": scheme, "host": "", "path": "", "query": query, "opaque": rest}
        if via_request:
            raise _url_fail(raw, "invalid URI for request")
    host = ""
    path = rest
    if rest.startswith("//") and (scheme or (not via_request and not rest.startswith("///"))):
        authority, slash, tail = rest[2:].partition("/")
        path = slash + tail
        userinfo, at, host = authority.rpartition("@")
        if not at:
            host = authority
        elif any(not (c.isascii() and c.isalnum()) and c not in _USERINFO_OK for c in userinfo):
            raise _url_fail(raw, "net/url: invalid userinfo")
        else:
            _check_escapes(raw, userinfo, host=False)
        if host.startswith("["):
            end = host.rfind("]")
            if end < 0:
                raise _url_fail(raw, "missing ']' in host")
            port = host[end + 1 :]
        else:
            colon = host.rfind(":")
            port = host[colon:] if colon >= 0 else ""
        if port and not (port[0] == ":" and all(c in "0123456789" for c in port[1:])):
            raise _url_fail(raw, f"invalid port {go_quote(port)} after host")
        _check_escapes(raw, host, host=True)
    _check_escapes(raw, path, host=False)
    return {"scheme": scheme, "host": host, "path": path, "query": query}


_URL_TAG = "__k8s_url__"


def _url(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        raise TypeError("url() takes a string")
    parse_url(text, via_request=True)
    # Kubernetes re-parses with url.Parse so the getters see the fragment split off.
    parts = parse_url(text, via_request=False)
    parts[_URL_TAG] = text
    return parts


def _is_url(text: Any) -> bool:
    if not isinstance(text, str):
        raise TypeError("isURL() takes a string")
    try:
        parse_url(text, via_request=True)
    except CelError:
        return False
    return True


def _url_part(u: Any) -> dict[str, str]:
    if not isinstance(u, Mapping) or _URL_TAG not in u:
        raise TypeError("expected a URL value")
    return dict(u)


def _url_hostname(u: Any) -> str:
    host = _url_part(u)["host"]
    if host.startswith("["):
        return host[1 : host.find("]")]
    colon = host.rfind(":")
    return host[:colon] if colon >= 0 else host


def _url_port(u: Any) -> str:
    host = _url_part(u)["host"]
    tail = host[host.rfind("]") + 1 :] if host.startswith("[") else host
    colon = tail.rfind(":")
    return tail[colon + 1 :] if colon >= 0 else ""


def _url_escaped_path(u: Any) -> str:
    path = _url_part(u)["path"]
    if all((c.isascii() and c.isalnum()) or c in _PATH_OK for c in path):
        return path  # already a valid encoding: Go keeps it as written
    out = []
    for byte in unquote_to_bytes(path):
        ch = chr(byte)
        ok = byte < 0x80 and (ch.isalnum() or ch in _PATH_OK) and ch != "%"
        out.append(ch if ok else f"%{byte:02X}")
    return "".join(out)


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _url_query(u: Any) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for pair in _url_part(u)["query"].split("&"):
        # Go's ParseQuery drops pairs containing ';' or a malformed escape.
        if not pair or ";" in pair or _BAD_ESCAPE.search(pair):
            continue
        key, _, value = pair.partition("=")
        result.setdefault(unquote_plus(key), []).append(unquote_plus(value))
    return result


URL_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "url": _url,
    "isURL": _is_url,
    "getScheme": lambda u: _url_part(u)["scheme"],
    "getHost": lambda u: _url_part(u)["host"],
    "getHostname": _url_hostname,
    "getPort": _url_port,
    "getEscapedPath": _url_escaped_path,
    "getQuery": _url_query,
}
"""Kubernetes' CEL URL library, by CEL function name."""
