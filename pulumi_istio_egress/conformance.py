"""Validate manifests against CustomResourceDefinitions the way the Kubernetes API server does.

For a create request the API server (with ``kubectl apply --validate=strict``) checks that

* ``apiVersion``/``kind`` name a served version of a known CRD,
* ``metadata`` is valid ObjectMeta (name a DNS-1123 subdomain, labels, annotations, ...),
* the object satisfies that version's ``openAPIV3Schema`` with structural-schema semantics (types,
  formats Kubernetes enforces, enum, required, pattern, bounds, composition, int-or-string,
  preserve-unknown-fields, list types, nullable) and has no field the schema does not declare,
* every ``x-kubernetes-validations`` CEL rule holds.

:class:`CrdSet` does all of that offline. CEL rules run on the ``cel`` package; the Kubernetes CEL
library functions Istio's CRDs call that it lacks (``url``/``isURL``/``getScheme``..., Go-syntax
``duration``, code-point ``size``, the string extensions) are supplied as Python functions.

Where this differs from a real API server, it says so instead of passing silently: a rule (or
pattern, or format) it cannot evaluate yields a finding whose message starts with
:data:`COULD_NOT_EVALUATE`. Known, documented approximations:

* Transition rules (those using ``oldSelf``) are skipped: they only run on update.
* Durations reach CEL with microsecond precision, rounded down, so ``>=``/``<`` against
  whole-microsecond bounds (all Istio rules) are exact; ``>``/``<=`` may differ below 1us.
* Formats: ``byte``, ``date-time``, ``date``, ``ipv4``, ``ipv6``, ``cidr``, ``uuid*``, ``uri``,
  ``mac``, ``hexcolor``, ``bsonobjectid`` are checked; other formats Kubernetes
  enforces are reported as not evaluated; unknown formats (``int32``, ``double``...) are ignored,
  as Kubernetes does.
* Like the API server, CEL rules are not run where the object already has a type, enum, required,
  too-long or too-many error; unlike it, rules elsewhere in the object still run (more findings in
  one pass), and one finding notes the rules that were skipped.
* Schema defaults are applied before validating, and ``status`` is ignored (except for undeclared
  fields) when the CRD has a status subresource, as on create.
* A ``null`` in a non-nullable field is a type error, as in Istio's own CRD test validator and
  test vectors; the API server may prune such nulls while decoding, and then report a missing
  required field or nothing.
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime as _dt
import difflib
import errno
import functools
import ipaddress
import json
import logging
import math
import os
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

import cel
import yaml
from cel import stdlib as cel_stdlib

from pulumi_istio_egress.findings import Finding, Manifest

__all__ = [
    "COULD_NOT_EVALUATE",
    "DEFAULT_CRDS_ENV",
    "RULES_NOT_CHECKED",
    "CrdSet",
    "crds_from_env",
    "is_unevaluated",
]

DEFAULT_CRDS_ENV = "ISTIO_CRDS"
"""Environment variable holding the path of the CRD YAML (e.g. Istio's ``crd-all.gen.yaml``)."""

COULD_NOT_EVALUATE = "could not evaluate"
"""Prefix of every finding for a check this module cannot perform (never a silent pass)."""

RULES_NOT_CHECKED = (
    "some validation rules were not checked because the object was invalid; "
    "correct the existing errors to complete validation"
)
"""The API server's note when type/enum/required/size errors keep CEL rules from running."""

_UNEVALUATED_FIX = (
    "Check this object against a real API server (`kubectl apply --dry-run=server`); "
    "this validator cannot evaluate the check"
)

# ---------------------------------------------------------------------------------------------
# Small helpers for messages in the API server's style
# ---------------------------------------------------------------------------------------------


def is_unevaluated(finding: Finding) -> bool:
    """True for a finding that reports a check this module could not perform."""
    return finding.message.startswith(COULD_NOT_EVALUATE)


def _go_number(x: float | int) -> str:
    # Go prints float64 150.0 as "150" (%v); Python would print "150.0".
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    return repr(x) if isinstance(x, float) else str(x)


def _show(value: Any) -> str:
    """A value as the API server prints it in ``Invalid value: ...``."""
    if value is None:
        return '"null"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _go_number(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


_JSON_TYPES: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    int: "integer",
    bool: "boolean",
    float: "number",
    type(None): "null",
    tuple: "array",
}


def _json_type(value: Any) -> str:
    exact = _JSON_TYPES.get(type(value))  # fast path: isinstance on ABCs is slow
    if exact is not None:
        return exact
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


_TYPE_DESC = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true/false)",
    "object": "an object (a mapping)",
    "array": "an array (a list)",
}


def _key_str(key: Any) -> str:
    # YAML allows non-string keys; the API server only ever sees JSON (string) keys.
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, float):
        return _go_number(key)
    return str(key)


def _str_keys(value: Mapping[Any, Any]) -> Mapping[str, Any]:
    for key in value:
        if not isinstance(key, str):
            return {_key_str(k): v for k, v in value.items()}
    return value


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _hashable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return (type(value).__name__, value)
    return ("json", _show(value))


# ---------------------------------------------------------------------------------------------
# Regular expressions: CRD patterns are Go RE2 syntax
# ---------------------------------------------------------------------------------------------


def _go_regex(pattern: str) -> re.Pattern[str]:
    """Compile a Go (RE2) pattern with Python's ``re``, keeping RE2's meaning.

    RE2's ``$`` matches only at the very end (Python's also before a final newline) and ``\\z``
    is spelled ``\\Z`` in Python; ``re.ASCII`` gives RE2's ASCII ``\\d``/``\\w``/``\\s``.
    """
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            out.append("\\Z" if nxt == "z" and not in_class else ch + nxt)
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            # A ']' right after '[' or '[^' is literal, not the end of the class.
            lead = 2 if pattern[i + 1 : i + 2] == "^" else 1
            if pattern[i + lead : i + lead + 1] == "]":
                out.append(pattern[i : i + lead + 1])
                i += lead + 1
                continue
        elif ch == "$":
            out.append("\\Z")
            i += 1
            continue
        out.append(ch)
        i += 1
    return re.compile("".join(out), re.ASCII)


# ---------------------------------------------------------------------------------------------
# Formats Kubernetes enforces (apiextensions-apiserver's format registry)
# ---------------------------------------------------------------------------------------------

# The time part after the date and 'T' (strfmt's pattern: seconds and offset are required).
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|[+-][0-9]{2}:[0-9]{2})")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_UUID = {
    "uuid": re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}"),
    "uuid3": re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}"),
    "uuid4": re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}"),
    "uuid5": re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}"),
}
_HEX = frozenset("0123456789abcdefABCDEF")


def _is_byte(s: str) -> bool:
    # Go's base64.StdEncoding ignores CR/LF; everything else must be padded standard base64.
    try:
        base64.b64decode(s.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _is_date_time(s: str) -> bool:
    parts = s.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _TIME.fullmatch(parts[1])
    return m is not None and int(m.group(1)) <= 23 and int(m.group(2)) <= 59 and int(m.group(3)) <= 59


def _is_date(s: str) -> bool:
    m = _DATE.fullmatch(s)
    if not m:
        return False
    try:
        _dt.date(*(int(g) for g in m.groups()))
    except ValueError:
        return False
    return True


def _is_ip(s: str) -> bool:
    if "%" in s:  # Go's net.ParseIP has no zones
        return False
    try:
        ipaddress.ip_address(s)
    except ValueError:
        return False
    return True


def _is_cidr(s: str) -> bool:
    addr, slash, bits = s.partition("/")
    if not slash or not bits.isascii() or not bits.isdigit() or (len(bits) > 1 and bits[0] == "0"):
        return False
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "%" not in addr


def _is_mac(s: str) -> bool:
    # Go's net.ParseMAC: 6, 8 or 20 octets as xx:xx.. / xx-xx.. or xxxx.xxxx...
    if len(s) >= 14 and s[4] == ".":
        groups = s.split(".")
        ok = all(len(g) == 4 and set(g) <= _HEX for g in groups)
        return ok and len(groups) * 2 in (6, 8, 20)
    if len(s) >= 17 and s[2] in ":-":
        groups = s.split(s[2])
        return all(len(g) == 2 and set(g) <= _HEX for g in groups) and len(groups) in (6, 8, 20)
    return False


def _is_uri(s: str) -> bool:
    try:
        _parse_url(s, via_request=True)
    except _CelError:
        return False
    return True


def _matcher(rx: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda s: rx.fullmatch(s) is not None


_FORMATS: dict[str, Callable[[str], bool]] = {
    "byte": _is_byte,
    "date-time": _is_date_time,
    "datetime": _is_date_time,
    "date": _is_date,
    "ipv4": lambda s: "." in s and _is_ip(s),  # strfmt: parses as an IP and has a dot
    "ipv6": lambda s: ":" in s and _is_ip(s),
    "cidr": _is_cidr,
    **{name: _matcher(rx) for name, rx in _UUID.items()},
    "uri": _is_uri,
    "mac": _is_mac,
    "hexcolor": lambda s: re.fullmatch(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", s) is not None,
    "bsonobjectid": lambda s: re.fullmatch(r"[0-9a-fA-F]{24}", s) is not None,
    "password": lambda s: True,
}
# Enforced by Kubernetes but not implemented here: reported as "could not evaluate".
_UNCHECKED_FORMATS = frozenset(
    {"email", "hostname", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "rgbcolor", "duration"}
)

_FORMAT_HINTS = {
    "byte": "padded standard base64",
    "date-time": "an RFC 3339 timestamp such as 2024-01-02T15:04:05Z",
    "datetime": "an RFC 3339 timestamp such as 2024-01-02T15:04:05Z",
    "date": "a date such as 2024-01-02",
}


# ---------------------------------------------------------------------------------------------
# Kubernetes CEL library functions the cel package lacks
# ---------------------------------------------------------------------------------------------


class _CelError(Exception):
    """A CEL runtime error the API server raises as well (bad URL, bad duration, ...)."""


_tls = threading.local()


class _QuietExpectedErrors(logging.Filter):
    # The cel package logs a warning for each failing Python function; ours fail by design
    # (an invalid URL is a rule violation) and are reported as findings instead.
    def filter(self, record: logging.LogRecord) -> bool:
        return getattr(_tls, "pending", None) is None


logging.getLogger("cel").addFilter(_QuietExpectedErrors())


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        try:
            return fn(*args)
        except Exception as exc:
            _tls.pending = exc
            raise

    return call


_MAX_NS = (1 << 63) - 1
_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def _go_duration_ns(text: str) -> int:
    """Go's ``time.ParseDuration`` (what Kubernetes' CEL ``duration()`` uses), in nanoseconds."""

    def invalid(why: str = "invalid duration") -> _CelError:
        return _CelError(f"time: {why} {json.dumps(text, ensure_ascii=False)}")

    s, negative = text, False
    if s[:1] in ("-", "+"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid()
    total = 0
    while s:
        m = _DURATION_PART.match(s)
        assert m is not None  # the pattern matches the empty string
        whole, frac, unit = m.group(1), m.group(2), m.group(3)
        if not whole and not frac:
            raise invalid()
        if not unit:
            raise invalid("missing unit in duration")
        scale = _DURATION_UNITS.get(unit)
        if scale is None:
            raise _CelError(
                f"time: unknown unit {json.dumps(unit, ensure_ascii=False)} in duration "
                f"{json.dumps(text, ensure_ascii=False)}"
            )
        value = int(whole or "0") * scale
        if frac:
            value += int(frac) * scale // 10 ** len(frac)
        total += value
        if total > _MAX_NS + (1 if negative else 0):
            raise invalid()
        s = s[m.end() :]
    return -total if negative else total


@functools.lru_cache(maxsize=4096)
def _duration_micros(text: str) -> int:
    # Floor to microseconds: keeps `>=` against whole-microsecond bounds exact.
    return _go_duration_ns(text) // 1000


def _k8s_duration(text: Any) -> _dt.timedelta:
    if not isinstance(text, str):
        raise TypeError("duration() takes a string")
    return _dt.timedelta(microseconds=_duration_micros(text))


# Durations the cel package's own duration() reads exactly as Go does (no µs, exponents, ...).
_PLAIN_DURATION = re.compile(r"[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|ms|s|m|h))+")


def _native_duration_ok(text: str) -> bool:
    if not _PLAIN_DURATION.fullmatch(text):
        return False
    try:
        _go_duration_ns(text)
    except _CelError:
        return False  # e.g. out of Go's range
    return True


def _k8s_size(value: Any) -> int:
    # cel-go counts a string's code points; the cel package counts its UTF-8 bytes.
    if isinstance(value, (str, bytes, list, tuple, dict)):
        return len(value)
    raise TypeError(f"size() of {type(value).__name__}")


# Go's net/url, as ParseRequestURI (Kubernetes' url()/isURL()) and Parse (the URL getters) see it.
_HOST_OK = frozenset("!$&'()*+,;=:[]<>\"-_.~")
_USERINFO_OK = frozenset("-._:~!$&'()*+,;=%@")
_PATH_OK = frozenset("-_.~!$&'()*+,;=:@/[]%")


def _url_fail(raw: str, why: str) -> _CelError:
    return _CelError(f"URL parse error during conversion from string: parse {json.dumps(raw)}: {why}")


def _check_escapes(raw: str, part: str, host: bool) -> None:
    i = 0
    while i < len(part):
        ch = part[i]
        if ch == "%":
            esc = part[i : i + 3]
            if len(esc) < 3 or not all(c in "0123456789abcdefABCDEF" for c in esc[1:]):
                raise _url_fail(raw, f"invalid URL escape {json.dumps(esc)}")
            if host and int(esc[1], 16) < 8 and esc != "%25":
                raise _url_fail(raw, f"invalid URL escape {json.dumps(esc)}")
            i += 3
            continue
        if host and ch.isascii() and not ch.isalnum() and ch not in _HOST_OK:
            raise _url_fail(raw, f"invalid character {json.dumps(ch)} in host name")
        i += 1


def _parse_url(raw: str, via_request: bool) -> dict[str, str]:
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
            raise _url_fail(raw, f"invalid port {json.dumps(port)} after host")
        _check_escapes(raw, host, host=True)
    _check_escapes(raw, path, host=False)
    return {"scheme": scheme, "host": host, "path": path, "query": query}


_URL_TAG = "__k8s_url__"


def _url(text: Any) -> dict[str, str]:
    if not isinstance(text, str):
        raise TypeError("url() takes a string")
    _parse_url(text, via_request=True)
    # Kubernetes re-parses with url.Parse so the getters see the fragment split off.
    parts = _parse_url(text, via_request=False)
    parts[_URL_TAG] = text
    return parts


def _is_url(text: Any) -> bool:
    if not isinstance(text, str):
        raise TypeError("isURL() takes a string")
    try:
        _parse_url(text, via_request=True)
    except _CelError:
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


_DURATION_FN = "k8s_duration"
_SIZE_FN = "k8s_size"

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: _guard(fn)
    for name, fn in {
        _DURATION_FN: _k8s_duration,
        _SIZE_FN: _k8s_size,
        "url": _url,
        "isURL": _is_url,
        "getScheme": lambda u: _url_part(u)["scheme"],
        "getHost": lambda u: _url_part(u)["host"],
        "getHostname": _url_hostname,
        "getPort": _url_port,
        "getEscapedPath": _url_escaped_path,
        "getQuery": _url_query,
        # cel-go's strings and sets extensions and Kubernetes' list helpers (bool, min, max, sum),
        # all part of Kubernetes' CEL environment.
        **cel_stdlib.EXTENSIONS["core"],
        **cel_stdlib.EXTENSIONS["strings"],
        **cel_stdlib.EXTENSIONS["sets"],
    }.items()
}


# ---------------------------------------------------------------------------------------------
# CEL rules
# ---------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*)"
    r"|(?P<literal>(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\"))"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[0-9][A-Za-z0-9_]*)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


def _tokens(source: str) -> list[tuple[str, str]]:
    """Split CEL source into (kind, text) tokens; enough lexing to tell names from strings."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(source):
        m = _TOKEN.match(source, i)
        assert m is not None and m.lastgroup is not None  # `other` matches any character
        kind, j = m.lastgroup, m.end()
        if kind == "literal":
            prefix = m.group(0)
            quote = prefix.lstrip("rRbB")
            raw = "r" in prefix[: len(prefix) - len(quote)].lower()
            while j < len(source) and not source.startswith(quote, j):
                j += 2 if source[j] == "\\" and not raw else 1
            j = min(j + len(quote), len(source))
        out.append((kind, source[i:j]))
        i = j
    return out


def _rename_calls(source: str, names: Mapping[str, str], native_ok: Callable[[str], bool] | None = None) -> str:
    """Rename calls ``name(`` outside string literals and comments.

    Lets Go-faithful Python versions stand in for cel built-ins that differ from cel-go
    (``duration`` syntax, ``size`` of strings): the cel package does not let a registered
    function override a built-in. A call on one plain literal that ``native_ok`` accepts stays
    native (``duration('1ms')``): calling back into Python costs microseconds.
    """
    tokens = _tokens(source)
    significant = [i for i, (k, _) in enumerate(tokens) if k not in ("space", "comment")]
    position = {index: n for n, index in enumerate(significant)}
    out: list[str] = []
    for index, (kind, text) in enumerate(tokens):
        if kind == "ident" and text in names:
            n = position[index]
            following = [tokens[i] for i in significant[n + 1 : n + 4]]
            if following[:1] == [("other", "(")]:
                literal = following[1][1] if len(following) == 3 and following[2] == ("other", ")") else ""
                plain = following[1:2] == [("literal", literal)] and literal[:1] in "'\"" and "\\" not in literal
                if not (plain and native_ok is not None and native_ok(literal[1:-1])):
                    text = names[text]
        out.append(text)
    return "".join(out)


_ITERATING = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True, slots=True)
class _SelfUse:
    """Which parts of ``self`` a rule can read, so only those are converted for CEL.

    Converting values into the cel package costs microseconds per string, and most rules read a
    few fields of a big object. ``fields``: fields read as ``self.f``; ``all_keys``: the keys are
    iterated or counted (values unused); ``element_fields``: for a list, the fields read from its
    elements as ``v.f`` inside ``self.all(v, ...)`` and friends (None: elements needed whole).
    """

    fields: frozenset[str]
    all_keys: bool
    element_fields: frozenset[str] | None


def _self_use(source: str) -> _SelfUse | None:
    """Conservative lexical analysis; None when the rule may read ``self`` as a whole."""
    tokens = [(k, t) for k, t in _tokens(source) if k not in ("space", "comment")]

    def at(i: int) -> str:
        return tokens[i][1] if 0 <= i < len(tokens) else ""

    fields: set[str] = set()
    all_keys = False
    bound: set[str] = set()
    for i, (kind, text) in enumerate(tokens):
        if kind != "ident" or text != "self" or at(i - 1) == ".":
            continue
        if at(i + 1) != "." or tokens[i + 2 : i + 3][:1] != [("ident", at(i + 2))]:
            return None
        name = at(i + 2)
        if at(i + 3) != "(":
            fields.add(name)
        elif name == "size" and at(i + 4) == ")":
            all_keys = True
        elif name in _ITERATING and tokens[i + 4 : i + 5] == [("ident", at(i + 4))] and at(i + 5) == ",":
            if tokens[i + 6 : i + 7] == [("ident", at(i + 6))] and at(i + 7) == ",":
                return None  # two-variable form: the second variable reads the values
            all_keys = True
            bound.add(at(i + 4))
        else:
            return None
    element_fields: set[str] | None = set()
    for i, (kind, text) in enumerate(tokens):
        if kind != "ident" or text not in bound or at(i - 1) == "." or element_fields is None:
            continue
        if at(i + 1) == "," and at(i - 1) == "(" and at(i - 2) in _ITERATING:
            continue  # the binding itself
        if at(i + 1) == "." and tokens[i + 2 : i + 3] == [("ident", at(i + 2))] and at(i + 3) != "(":
            element_fields.add(at(i + 2))
        else:
            element_fields = None
    return _SelfUse(frozenset(fields), all_keys, None if element_fields is None else frozenset(element_fields))


def _merge_use(uses: Iterable[_SelfUse | None]) -> _SelfUse | None:
    fields: set[str] = set()
    all_keys = False
    elements: set[str] | None = set()
    for use in uses:
        if use is None:
            return None
        fields |= use.fields
        all_keys = all_keys or use.all_keys
        if elements is not None and use.element_fields is not None:
            elements |= use.element_fields
        else:
            elements = None
    return _SelfUse(frozenset(fields), all_keys, None if elements is None else frozenset(elements))


@dataclass(frozen=True, slots=True)
class _Program:
    """One compiled CEL expression (shared across CRDs by source text)."""

    source: str
    program: Any  # cel.Program, or None when it failed to compile
    unicode_program: Any  # variant with code-point size(), for non-ASCII input; None if not needed
    functions: Mapping[str, Callable[..., Any]]
    transition: bool  # uses oldSelf: only evaluated on update
    error: str | None
    self_use: _SelfUse | None


_PROGRAMS: dict[str, _Program] = {}
_PROGRAMS_LOCK = threading.Lock()


def _compile_cel(source: str) -> _Program:
    cached = _PROGRAMS.get(source)
    if cached is not None:
        return cached
    go_source = _rename_calls(source, {"duration": _DURATION_FN}, _native_duration_ok)
    unicode_source = _rename_calls(go_source, {"size": _SIZE_FN})
    try:
        program = cel.compile(go_source)
        unicode_program = cel.compile(unicode_source) if unicode_source != go_source else None
    except Exception as exc:  # the cel package raises ValueError, but be safe with a foreign parser
        compiled = _Program(source, None, None, {}, False, f"cannot compile: {exc}".splitlines()[0], None)
    else:
        used = set(program.functions())
        if unicode_program is not None:
            used.update(unicode_program.functions())
        compiled = _Program(
            source,
            program,
            unicode_program,
            {name: _FUNCTIONS[name] for name in sorted(used) if name in _FUNCTIONS},
            "oldSelf" in program.variables(),
            None,
            _self_use(source),
        )
    with _PROGRAMS_LOCK:
        return _PROGRAMS.setdefault(source, compiled)


_FIELD_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\]")


@dataclass(frozen=True, slots=True)
class _Rule:
    rule: _Program
    message: str | None
    message_expression: _Program | None
    field_path: tuple[tuple[bool, str], ...]  # (is a map key, name) steps below the rule's node
    reason: str

    @property
    def text(self) -> str:
        """The rule on one line, for fixes."""
        return " ".join(self.rule.source.split())

    def failure(self) -> str:
        """The API server's text for a rule that is false: its message, else ``failed rule: ...``."""
        return self.message or f"failed rule: {self.rule.source.strip()}"

    def name(self) -> str:
        """The API server's name for a rule in an evaluation error: its message, else its text."""
        return self.message or self.rule.source.strip()

    def target(self, path: str, value: Any) -> tuple[str, Any]:
        """Where a failure is reported: the node, or the ``fieldPath`` below it (and its value)."""
        for is_key, name in self.field_path:
            path = f"{path}[{name}]" if is_key else _child(path, name)
            value = value.get(name) if isinstance(value, Mapping) else None
        return path, value


def _compile_rule(raw: Mapping[str, Any]) -> _Rule:
    steps: list[tuple[bool, str]] = []
    field_path = str(raw.get("fieldPath") or "")
    pos = 0
    while pos < len(field_path):
        m = _FIELD_PATH_PART.match(field_path, pos)
        if not m:
            steps = []  # unsupported syntax: report at the rule's own node
            break
        steps.append((False, m.group(1)) if m.group(1) else (True, m.group(2)))
        pos = m.end()
    message = raw.get("message")
    expression = raw.get("messageExpression")
    return _Rule(
        rule=_compile_cel(str(raw.get("rule", ""))),
        message=message.strip() if isinstance(message, str) and message.strip() else None,
        message_expression=_compile_cel(expression) if isinstance(expression, str) else None,
        field_path=tuple(steps),
        reason=str(raw.get("reason") or "FieldValueInvalid"),
    )


# ---------------------------------------------------------------------------------------------
# Compiled structural schemas
# ---------------------------------------------------------------------------------------------

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class _Schema:
    """One node of an openAPIV3Schema, compiled for fast repeated validation."""

    __slots__ = (
        "additional",
        "all_of",
        "any_of",
        "branch",
        "choice_fix",
        "composite",
        "default",
        "enum",
        "enum_keys",
        "exclusive_max",
        "exclusive_min",
        "format",
        "format_check",
        "has_defaults",
        "implicit",
        "int_or_string",
        "items",
        "list_type",
        "map_keys",
        "max_items",
        "max_length",
        "max_props",
        "maximum",
        "min_items",
        "min_length",
        "min_props",
        "minimum",
        "multiple_of",
        "not_",
        "nullable",
        "one_of",
        "pattern",
        "pattern_error",
        "pattern_source",
        "preserve",
        "properties",
        "required",
        "rule_functions",
        "rules",
        "scalar_checks",
        "self_use",
        "type",
    )

    def __init__(self, raw: Mapping[str, Any], branch: bool = False) -> None:
        self.branch = branch  # inside allOf/anyOf/oneOf/not: validates only, prunes nothing
        self.type: str | None = raw.get("type") if isinstance(raw.get("type"), str) else None
        self.nullable = bool(raw.get("nullable", False))
        self.default: Any = raw.get("default")  # Kubernetes forbids `default: null`, so None is "no default"
        self.int_or_string = bool(raw.get("x-kubernetes-int-or-string", False))
        self.preserve = bool(raw.get("x-kubernetes-preserve-unknown-fields", False))
        # The object's own apiVersion/kind/metadata are checked by CrdSet, not by the schema.
        embedded = bool(raw.get("x-kubernetes-embedded-resource", False))
        self.implicit: frozenset[str] = frozenset({"apiVersion", "kind", "metadata"} if embedded else ())
        props = raw.get("properties")
        self.properties: dict[str, _Schema] | None = (
            {str(k): _Schema(v, branch) for k, v in props.items()} if isinstance(props, Mapping) else None
        )
        addl = raw.get("additionalProperties")
        self.additional: _Schema | bool | None = (
            _Schema(addl, branch) if isinstance(addl, Mapping) else addl if isinstance(addl, bool) else None
        )
        items = raw.get("items")
        self.items: _Schema | None = _Schema(items, branch) if isinstance(items, Mapping) else None
        self.required: tuple[str, ...] = tuple(str(r) for r in raw.get("required") or ())
        enum = raw.get("enum")
        self.enum: tuple[Any, ...] | None = tuple(enum) if isinstance(enum, list) else None
        self.enum_keys = frozenset(_hashable(e) for e in self.enum) if self.enum is not None else None
        self.pattern_source: str | None = raw.get("pattern")
        self.pattern: re.Pattern[str] | None = None
        self.pattern_error: str | None = None
        if isinstance(self.pattern_source, str):
            try:
                self.pattern = _go_regex(self.pattern_source)
            except re.error as exc:
                self.pattern_error = str(exc)
        self.format: str | None = raw.get("format") if isinstance(raw.get("format"), str) else None
        self.format_check = _FORMATS.get(self.format) if self.format else None
        self.minimum: float | None = raw.get("minimum")
        self.maximum: float | None = raw.get("maximum")
        self.exclusive_min = bool(raw.get("exclusiveMinimum", False))
        self.exclusive_max = bool(raw.get("exclusiveMaximum", False))
        self.multiple_of: float | None = raw.get("multipleOf")
        self.min_length: int | None = raw.get("minLength")
        self.max_length: int | None = raw.get("maxLength")
        self.min_items: int | None = raw.get("minItems")
        self.max_items: int | None = raw.get("maxItems")
        self.min_props: int | None = raw.get("minProperties")
        self.max_props: int | None = raw.get("maxProperties")
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.map_keys: tuple[str, ...] = tuple(raw.get("x-kubernetes-list-map-keys") or ())
        any_of = raw.get("anyOf") or ()
        if self.int_or_string and all(set(b) <= {"type"} for b in any_of):
            any_of = ()  # that anyOf only spells out int-or-string, checked as a type
        self.any_of = tuple(_Schema(b, True) for b in any_of)
        self.one_of = tuple(_Schema(b, True) for b in raw.get("oneOf") or ())
        self.all_of = tuple(_Schema(b, True) for b in raw.get("allOf") or ())
        self.not_: _Schema | None = _Schema(raw["not"], True) if isinstance(raw.get("not"), Mapping) else None
        self.choice_fix = _choice_fix(raw.get("oneOf"))
        self.composite = bool(self.all_of or self.any_of or self.one_of or self.not_)
        self.scalar_checks = any(
            x is not None
            for x in (
                self.pattern_source, self.format, self.minimum, self.maximum, self.multiple_of,
                self.min_length, self.max_length,
            )
        )  # fmt: skip
        self.rules: tuple[_Rule, ...] = (
            () if branch else tuple(_compile_rule(r) for r in raw.get("x-kubernetes-validations") or ())
        )
        functions: dict[str, Callable[..., Any]] = {}
        for rule in self.rules:
            functions.update(rule.rule.functions)
            if rule.message_expression is not None:
                functions.update(rule.message_expression.functions)
        self.rule_functions = functions or None
        programs = [r.rule for r in self.rules if not r.rule.transition]
        programs += [r.message_expression for r in self.rules if r.message_expression is not None]
        self.self_use = _merge_use(p.self_use for p in programs)
        children = [*(self.properties or {}).values(), self.additional, self.items]
        self.has_defaults: bool = any(
            isinstance(c, _Schema) and (c.default is not None or c.has_defaults) for c in children
        )


def _choice_fix(one_of: Any) -> str | None:
    """A concrete fix for the oneOf shapes protobuf-generated CRDs use for ``oneof`` fields."""
    if not isinstance(one_of, list):
        return None
    names: list[str] = []
    optional = False
    for branch in one_of:
        if not isinstance(branch, Mapping):
            return None
        if set(branch) == {"required"} and len(branch["required"]) == 1:
            names.append(str(branch["required"][0]))
        elif set(branch) == {"not"} and set(branch["not"]) == {"anyOf"}:
            optional = True
        else:
            return None
    if not names:
        return None
    return f"Set {'at most' if optional else 'exactly'} one of: {', '.join(names)}"


# ---------------------------------------------------------------------------------------------
# Validation walk
# ---------------------------------------------------------------------------------------------


class _Run:
    """Findings of one validation (or of one probe of a composition branch)."""

    __slots__ = ("cel_findings", "failed", "findings", "probe", "unchecked")

    def __init__(self, probe: bool = False) -> None:
        self.probe = probe  # only whether anything failed matters
        self.failed = False
        self.findings: list[Finding] = []
        self.cel_findings: list[Finding] = []
        self.unchecked: str | None = None

    def add(self, path: str, value: Any, message: str, fix: str) -> None:
        self.failed = True
        if not self.probe:
            self.findings.append(Finding(path or "<root>", value, message, fix))


def _in_body(path: str, detail: str) -> str:
    return f"{path or '<root>'} in body {detail}"


def _check(s: _Schema, value: Any, path: str, run: _Run) -> bool:
    """Validate ``value`` against ``s``; True when a blocking (CEL-skipping) error occurred."""
    kind = _json_type(value)
    if value is None:
        if s.nullable or (s.type is None and not s.int_or_string):
            return False
        expected = "integer,string" if s.int_or_string else str(s.type)
        run.add(
            path,
            None,
            f'Invalid value: "null": {_in_body(path, f"must be of type {expected}")}: "null"',
            f"Set it to {_TYPE_DESC.get(str(s.type), 'an integer or a string')} or remove the field",
        )
        _skip_rules(s, path, run)
        return True
    if s.int_or_string:
        ok = kind in ("integer", "string") or (kind == "number" and float(value).is_integer())
        expected = "integer,string"
    else:
        expected = str(s.type)
        ok = (
            kind == s.type
            or s.type is None
            or (s.type == "integer" and kind == "number" and math.isfinite(value) and value.is_integer())
            or (s.type == "number" and kind == "integer")
        )
    if not ok:
        run.add(
            path,
            value,
            f'Invalid value: {_show(value)}: {_in_body(path, f"must be of type {expected}")}: "{kind}"',
            f"Change it to {_TYPE_DESC.get(expected, 'an integer or a string')}",
        )
        _skip_rules(s, path, run)
        return True

    blocked = False
    if kind == "object":
        blocked = _check_object(s, _str_keys(value), path, run)
    elif kind == "array":
        blocked = _check_array(s, value, path, run)
    elif not s.scalar_checks:
        pass  # most leaves: nothing beyond the type to check
    elif kind == "string":
        blocked = _check_string(s, value, path, run)
    elif kind in ("integer", "number"):
        _check_number(s, value, path, run)

    if s.enum_keys is not None and _hashable(value) not in s.enum_keys:
        assert s.enum is not None
        supported = ", ".join(json.dumps(str(e)) for e in s.enum)
        run.add(
            path,
            value,
            f"Unsupported value: {_show(value)}: supported values: {supported}",
            f"Use one of: {', '.join(str(e) for e in s.enum)}",
        )
        blocked = True
    if s.composite:
        _check_composition(s, value, path, run)
    if blocked:
        _skip_rules(s, path, run)
    elif s.rules and not run.probe:
        _evaluate_rules(s, value, path, run)
    return blocked


def _skip_rules(s: _Schema, path: str, run: _Run) -> None:
    # Like the API server, no CEL on a value with a blocking error: it may not have the types the
    # rules were written for. Remember the first such place for the RULES_NOT_CHECKED note.
    if s.rules and run.unchecked is None:
        run.unchecked = path or "<root>"


def _check_object(s: _Schema, value: Mapping[str, Any], path: str, run: _Run) -> bool:
    blocked = False
    for name in s.required:
        if name not in value:
            run.add(_child(path, name), None, "Required value", f"Set {_child(path, name)}")
            blocked = True
    count = len(value)
    if s.min_props is not None and count < s.min_props:
        run.add(
            path,
            value,
            f"Invalid value: {count}: {_in_body(path, f'should have at least {s.min_props} properties')}",
            f"Give it at least {_count(s.min_props, 'entry', 'entries')}, or remove it",
        )
    if s.max_props is not None and count > s.max_props:
        run.add(
            path,
            value,
            f"Too many: {count}: must have at most {s.max_props} items",
            f"Give it at most {_count(s.max_props, 'entry', 'entries')}",
        )
        blocked = True
    props, addl = s.properties, s.additional
    for key, item in value.items():
        child = props.get(key) if props is not None else None
        if key in s.implicit:
            # ObjectMeta is validated on its own; a CRD may only constrain name and generateName.
            if key == "metadata" and child is not None and child.properties and isinstance(item, Mapping):
                for name in ("name", "generateName"):
                    if name in item and name in child.properties:
                        blocked |= _check(child.properties[name], item[name], f"metadata.{name}", run)
        elif child is not None:
            blocked |= _check(child, item, _child(path, key), run)
        elif isinstance(addl, _Schema):
            blocked |= _check(addl, item, f"{path}[{key}]", run)
        elif not (addl is True or s.preserve or s.branch):
            _unknown_field(s, key, item, path, run)
    return blocked


def _unknown_field(s: _Schema, key: str, item: Any, path: str, run: _Run) -> None:
    known = sorted({*(s.properties or ()), *s.implicit})
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        fix = f"Did you mean `{close[0]}`? Otherwise remove `{key}`"
    elif known:
        fix = f"Remove `{key}`; fields allowed here: {', '.join(known)}"
    else:
        fix = f"Remove `{key}`; this object takes no fields"
    run.add(_child(path, key), item, "field not declared in schema", fix)


def _check_unknown_only(s: _Schema, value: Any, path: str, run: _Run) -> None:
    """Only the fields the schema does not declare: all that matters of an ignored subtree."""
    kind = _json_type(value)
    if kind == "object":
        for key, item in _str_keys(value).items():
            member = _member(s, key)
            if isinstance(member, _Schema):
                child_path = _child(path, key) if s.properties and key in s.properties else f"{path}[{key}]"
                _check_unknown_only(member, item, child_path, run)
            elif member is False and key not in s.implicit:
                _unknown_field(s, key, item, path, run)
    elif kind == "array" and s.items is not None:
        for index, item in enumerate(value):
            _check_unknown_only(s.items, item, f"{path}[{index}]", run)


def _check_array(s: _Schema, value: list[Any] | tuple[Any, ...], path: str, run: _Run) -> bool:
    blocked = False
    count = len(value)
    if s.min_items is not None and count < s.min_items:
        run.add(
            path,
            value,
            f"Invalid value: {count}: {_in_body(path, f'should have at least {s.min_items} items')}",
            f"Give it at least {_count(s.min_items, 'item', 'items')}",
        )
    if s.max_items is not None and count > s.max_items:
        run.add(
            path,
            value,
            f"Too many: {count}: must have at most {s.max_items} items",
            f"Give it at most {_count(s.max_items, 'item', 'items')}",
        )
        blocked = True
    if s.items is not None:
        for index, item in enumerate(value):
            blocked |= _check(s.items, item, f"{path}[{index}]", run)
    if s.list_type == "map" and s.map_keys:
        seen: set[tuple[Any, ...]] = set()
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                continue
            item = _str_keys(item)
            key = tuple(_hashable(item.get(k)) for k in s.map_keys)
            if key in seen:
                shown = {k: item.get(k) for k in s.map_keys}
                names = ", ".join(f"`{k}`" for k in s.map_keys)
                run.add(
                    f"{path}[{index}]",
                    shown,
                    f"Duplicate value: {_show(shown)}",
                    f"Give each item of {path} a unique {names}",
                )
            seen.add(key)
    elif s.list_type == "set":
        seen_items: set[Any] = set()
        for index, item in enumerate(value):
            key = _hashable(item)
            if key in seen_items:
                run.add(f"{path}[{index}]", item, f"Duplicate value: {_show(item)}", "Remove the duplicate item")
            seen_items.add(key)
    return blocked


def _check_string(s: _Schema, value: str, path: str, run: _Run) -> bool:
    blocked = False
    if s.min_length is not None and len(value) < s.min_length:
        run.add(
            path,
            value,
            f"Invalid value: {_show(value)}: {_in_body(path, f'should be at least {s.min_length} chars long')}",
            f"Use at least {_count(s.min_length, 'character', 'characters')}, or remove the field",
        )
    if s.max_length is not None and len(value) > s.max_length:
        run.add(
            path,
            value,
            f"Too long: may not be longer than {s.max_length}",
            f"Use at most {_count(s.max_length, 'character', 'characters')}",
        )
        blocked = True
    if s.pattern is not None and not s.pattern.search(value):
        run.add(
            path,
            value,
            f"Invalid value: {_show(value)}: " + _in_body(path, f"should match '{s.pattern_source}'"),
            f"Change it to match the regular expression {s.pattern_source}",
        )
    elif s.pattern_error is not None:
        run.add(
            path,
            value,
            f"{COULD_NOT_EVALUATE} pattern {s.pattern_source!r}: {s.pattern_error}",
            _UNEVALUATED_FIX,
        )
    if s.format is not None and s.type == "string":
        if s.format_check is not None:
            if not s.format_check(value):
                hint = _FORMAT_HINTS.get(s.format, f"a valid {s.format}")
                run.add(
                    path,
                    value,
                    f"Invalid value: {_show(value)}: {_in_body(path, f'must be of type {s.format}')}: {_show(value)}",
                    f"Use {hint}",
                )
                blocked = True
        elif s.format in _UNCHECKED_FORMATS:
            run.add(
                path,
                value,
                f"{COULD_NOT_EVALUATE} format {s.format!r}: not implemented by this validator",
                _UNEVALUATED_FIX,
            )
    return blocked


def _check_number(s: _Schema, value: float, path: str, run: _Run) -> None:
    shown = _show(value)
    if s.minimum is not None:
        low = _go_number(s.minimum)
        if s.exclusive_min and value <= s.minimum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {_in_body(path, f'should be greater than {low}')}",
                f"Use a value greater than {low}",
            )
        elif value < s.minimum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {_in_body(path, f'should be greater than or equal to {low}')}",
                f"Use a value of at least {low}",
            )
    if s.maximum is not None:
        high = _go_number(s.maximum)
        if s.exclusive_max and value >= s.maximum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {_in_body(path, f'should be less than {high}')}",
                f"Use a value less than {high}",
            )
        elif value > s.maximum:
            run.add(
                path,
                value,
                f"Invalid value: {shown}: {_in_body(path, f'should be less than or equal to {high}')}",
                f"Use a value of at most {high}",
            )
    if s.multiple_of and not float(value / s.multiple_of).is_integer():
        step = _go_number(s.multiple_of)
        run.add(
            path,
            value,
            f"Invalid value: {shown}: {_in_body(path, f'should be a multiple of {step}')}",
            f"Use a multiple of {step}",
        )


def _matches(branch: _Schema, value: Any) -> bool:
    probe = _Run(probe=True)
    _check(branch, value, "", probe)
    return not probe.failed


def _check_composition(s: _Schema, value: Any, path: str, run: _Run) -> None:
    shown = f'Invalid value: "{_json_type(value)}"'
    if s.all_of and not all(_matches(b, value) for b in s.all_of):
        run.add(
            path,
            value,
            f"{shown}: {_in_body(path, 'must validate all the schemas (allOf)')}",
            "Change it to satisfy every alternative listed under allOf in the schema",
        )
    if s.any_of and not any(_matches(b, value) for b in s.any_of):
        run.add(
            path,
            value,
            f"{shown}: {_in_body(path, 'must validate at least one schema (anyOf)')}",
            "Change it to satisfy one of the alternatives listed under anyOf in the schema",
        )
    if s.one_of:
        count = sum(_matches(b, value) for b in s.one_of)
        if count != 1:
            found = f". Found {count} valid alternatives" if count else ""
            run.add(
                path,
                value,
                f"{shown}: {_in_body(path, 'must validate one and only one schema (oneOf)')}{found}",
                s.choice_fix or "Change it to satisfy exactly one of the alternatives under oneOf in the schema",
            )
    if s.not_ is not None and _matches(s.not_, value):
        run.add(
            path,
            value,
            f"{shown}: {_in_body(path, 'must not validate the schema (not)')}",
            "Change it so it no longer matches the schema under `not`",
        )


# ---------------------------------------------------------------------------------------------
# CEL evaluation
# ---------------------------------------------------------------------------------------------


class _Conversion:
    __slots__ = ("non_ascii",)

    def __init__(self) -> None:
        self.non_ascii = False


def _raw_to_cel(value: Any, conv: _Conversion) -> Any:
    kind = _json_type(value)
    if kind == "string":
        if not value.isascii():
            conv.non_ascii = True
        return value
    if kind == "integer":
        # Go decodes JSON integers beyond int64 as float64.
        return value if _INT64_MIN <= value <= _INT64_MAX else float(value)
    if kind == "object":
        out = {}
        for k, v in value.items():
            key = _key_str(k)
            if not key.isascii():
                conv.non_ascii = True
            out[key] = _raw_to_cel(v, conv)
        return out
    if kind == "array":
        return [_raw_to_cel(v, conv) for v in value]
    return value


def _with_defaults(s: _Schema, value: Any) -> Any:
    """A copy of ``value`` with the schema's defaults filled in, as the API server does on decode."""
    kind = _json_type(value)
    if kind == "object":
        out = dict(_str_keys(value))
        for key, child in (s.properties or {}).items():
            if child.default is not None and (key not in out or (out[key] is None and not child.nullable)):
                out[key] = copy.deepcopy(child.default)
        for key, item in out.items():
            member = _member(s, key)
            if isinstance(member, _Schema) and (member.has_defaults or member.default is not None):
                if item is None and member.default is not None and not member.nullable:
                    out[key] = copy.deepcopy(member.default)
                elif member.has_defaults:
                    out[key] = _with_defaults(member, item)
        return out
    if kind == "array" and s.items is not None and s.items.has_defaults:
        return [_with_defaults(s.items, item) for item in value]
    return value


def _member(s: _Schema, key: str) -> _Schema | bool:
    """The schema of field ``key``: a node, True (kept as is) or False (pruned)."""
    child = s.properties.get(key) if s.properties is not None else None
    if child is not None:
        return child
    if isinstance(s.additional, _Schema):
        return s.additional
    return s.additional is True or s.preserve


def _to_cel(s: _Schema, value: Any, conv: _Conversion, use: _SelfUse | None = None) -> Any:
    """The value as Kubernetes hands it to CEL: pruned to the schema, typed by the schema.

    With ``use``, only what the rules can read is converted (see :class:`_SelfUse`).
    """
    kind = _json_type(value)
    if kind == "null" or s.int_or_string:
        return _raw_to_cel(int(value) if kind == "number" else value, conv)
    if kind == "object":
        out: dict[str, Any] = {}
        for k, item in value.items():
            key = _key_str(k)
            member = _member(s, key)
            if member is False:
                continue
            if use is not None and key not in use.fields:
                if use.all_keys:
                    out[key] = None
                    conv.non_ascii = conv.non_ascii or not key.isascii()
                continue
            if not key.isascii():
                conv.non_ascii = True
            out[key] = _raw_to_cel(item, conv) if member is True else _to_cel(member, item, conv)
        return out
    if kind == "array":
        if s.items is None:
            return [_raw_to_cel(v, conv) for v in value]
        if use is not None and use.element_fields is not None:
            element_use = _SelfUse(use.element_fields, False, None)
            return [_to_cel(s.items, v, conv, element_use) for v in value]
        return [_to_cel(s.items, v, conv) for v in value]
    if s.type == "integer" and kind in ("integer", "number"):
        return _raw_to_cel(int(value), conv)
    if s.type == "number" and kind in ("integer", "number"):
        return float(value)
    if kind != "string" or s.format is None:
        return _raw_to_cel(value, conv)
    if s.format == "byte":
        try:
            return base64.b64decode(value.replace("\r", "").replace("\n", ""), validate=True)
        except (binascii.Error, ValueError):
            return value
    if s.format in ("date-time", "datetime") and _is_date_time(value):
        try:
            return _dt.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
        except ValueError:
            return value  # an offset/precision Python cannot read: left as the string
    return _raw_to_cel(value, conv)


# Functions and macros the cel package itself provides (the rest come from _FUNCTIONS).
_CEL_BUILTINS = frozenset(
    {
        "size", "contains", "startsWith", "endsWith", "matches", "int", "uint", "double", "string",
        "bytes", "duration", "timestamp", "dyn", "type", "has", "all", "exists", "exists_one", "map",
        "filter", "getFullYear", "getMonth", "getDate", "getDayOfMonth", "getDayOfWeek",
        "getDayOfYear", "getHours", "getMinutes", "getSeconds", "getMilliseconds",
    }
)  # fmt: skip
_GO_CONVERSION = re.compile(r"Function '(int|uint|double)' error: string parse error")
_UNDEFINED = re.compile(r"Undefined variable or function: '([^']*)'")


def _run_program(program: _Program, ctx: Any, non_ascii: bool) -> tuple[str, Any]:
    """Execute; returns ("ok", result), ("error", api-server-style error) or ("unevaluated", why)."""
    if program.program is None:
        return "unevaluated", program.error
    chosen = program.unicode_program if non_ascii and program.unicode_program is not None else program.program
    _tls.pending = None
    try:
        return "ok", chosen.execute(ctx)
    except Exception as exc:
        return _classify(exc, getattr(_tls, "pending", None))
    finally:
        _tls.pending = None  # also after an error CEL absorbed (`true || error`)


def _classify(exc: Exception, pending: BaseException | None) -> tuple[str, str]:
    # Errors cel-go raises as well (so the API server rejects the object) versus gaps in this
    # emulation (reported as not evaluated: the API server type-checks rules when the CRD is created,
    # so an overload mismatch there cannot happen for an accepted CRD).
    if pending is not None:
        if isinstance(pending, _CelError):
            return "error", str(pending)
        if isinstance(pending, (IndexError, ValueError)):
            return "error", str(pending)
        return "unevaluated", f"{type(pending).__name__}: {pending}"
    text = str(exc).split("\n")[0]
    if isinstance(exc, KeyError):
        return "error", f"no such key: {exc.args[0] if exc.args else ''}"
    if isinstance(exc, IndexError):
        return "error", text
    if isinstance(exc, ZeroDivisionError):
        return "error", "modulus by zero" if "modulo" in text else "division by zero"
    if isinstance(exc, OverflowError):
        return "error", "integer overflow"
    conversion = _GO_CONVERSION.search(text)
    if conversion:
        return "error", f"type conversion error from 'string' to '{conversion.group(1)}'"
    if isinstance(exc, RuntimeError) and ("Function 'timestamp' error" in text or "not a valid regex" in text):
        return "error", text
    undefined = _UNDEFINED.search(text)
    if undefined:
        name = {_DURATION_FN: "duration", _SIZE_FN: "size"}.get(undefined.group(1), undefined.group(1))
        if name in _CEL_BUILTINS or name in _FUNCTIONS:
            return "unevaluated", f"no overload of '{name}' for these arguments in this validator"
        return "unevaluated", f"'{name}' is not implemented by this validator"
    if isinstance(exc, TypeError):
        return "unevaluated", "no matching overload in this validator"
    return "unevaluated", f"{type(exc).__name__}: {text}"


def _evaluate_rules(s: _Schema, value: Any, path: str, run: _Run) -> None:
    conv = _Conversion()
    use = s.self_use
    self_value = _to_cel(s, value, conv, use)
    if s.implicit and isinstance(value, Mapping) and isinstance(self_value, dict):
        # An object's own rules see apiVersion, kind and metadata.name/generateName.
        for key in ("apiVersion", "kind", "metadata"):
            if key not in value or not (use is None or use.all_keys or key in use.fields):
                continue
            item = value[key]
            if key == "metadata" and isinstance(item, Mapping):
                item = {k: item[k] for k in ("name", "generateName") if k in item}
            self_value[key] = _raw_to_cel(item, conv)
    ctx = cel.Context(variables={"self": self_value}, functions=s.rule_functions)
    kind = '""' if s.type is None else f'"{s.type}"'
    where = path or "<root>"
    for rule in s.rules:
        if rule.rule.transition:
            continue  # oldSelf rules only run on update; this validates a create
        outcome, result = _run_program(rule.rule, ctx, conv.non_ascii)
        if outcome == "ok" and result is True:
            continue
        fix = f"Change {path or 'the object'} so that the rule `{rule.text}` holds"
        if outcome == "ok" and result is False:
            message = rule.failure()
            if rule.message_expression is not None:
                status, text = _run_program(rule.message_expression, ctx, conv.non_ascii)
                if status == "ok" and isinstance(text, str) and text.strip():
                    message = text.strip()
            target, target_value = rule.target(path, value)
            body = {
                "FieldValueForbidden": f"Forbidden: {message}",
                "FieldValueRequired": f"Required value: {message}",
                "FieldValueDuplicate": f"Duplicate value: {kind}: {message}",
            }.get(rule.reason, f"Invalid value: {kind}: {message}")
            run.cel_findings.append(Finding(target or "<root>", target_value, body, fix))
        elif outcome == "error":
            body = f"Invalid value: {kind}: {result} evaluating rule: {rule.name()}"
            run.cel_findings.append(Finding(where, value, body, fix))
        else:
            why = f"it returned {type(result).__name__}, not bool" if outcome == "ok" else result
            body = f"{COULD_NOT_EVALUATE} rule `{rule.text}` ({rule.failure()}): {why}"
            run.cel_findings.append(Finding(where, value, body, _UNEVALUATED_FIX))


# ---------------------------------------------------------------------------------------------
# ObjectMeta
# ---------------------------------------------------------------------------------------------

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", re.ASCII)
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*", re.ASCII)
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]", re.ASCII)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SUBDOMAIN_FIX = "Use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
_OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_TOTAL_ANNOTATION_SIZE = 256 * 1024


def _qualified_name_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash:
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253 or not _DNS1123_SUBDOMAIN.fullmatch(prefix):
            return f"prefix part {_SUBDOMAIN_MSG}"
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.fullmatch(name):
        return (
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        )
    return None


def _check_string_map(meta: Mapping[str, Any], field: str, run: _Run) -> None:
    entries = meta.get(field)
    path = f"metadata.{field}"
    if entries is None:
        return
    if not isinstance(entries, Mapping):
        run.add(
            path,
            entries,
            f'Invalid value: {_show(entries)}: {path} in body must be of type object: "{_json_type(entries)}"',
            "Change it to a mapping of string keys to string values",
        )
        return
    total = 0
    for raw_key, item in entries.items():
        key = _key_str(raw_key)
        item_path = f"{path}[{key}]"
        if not isinstance(item, str):
            run.add(
                item_path,
                item,
                f'Invalid value: {_show(item)}: {item_path} in body must be of type string: "{_json_type(item)}"',
                "Quote the value so it is a string",
            )
            continue
        problem = _qualified_name_problem(key.lower() if field == "annotations" else key)
        if problem:
            run.add(
                item_path,
                key,
                f"Invalid value: {_show(key)}: {problem}",
                "Use [prefix/]name: a DNS subdomain prefix and a name of letters, digits, '-', '_', '.'",
            )
        if field == "labels":
            if len(item) > 63:
                run.add(
                    item_path,
                    item,
                    f"Invalid value: {_show(item)}: must be no more than 63 characters",
                    "Use at most 63 characters",
                )
            elif item and not _QUALIFIED_NAME.fullmatch(item):
                run.add(
                    item_path,
                    item,
                    f"Invalid value: {_show(item)}: a valid label must be an empty string or consist of "
                    "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                    "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                    "Use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
                )
        total += len(key) + len(item)
    if field == "annotations" and total > _TOTAL_ANNOTATION_SIZE:
        run.add(
            path,
            None,
            f"Too long: may not be more than {_TOTAL_ANNOTATION_SIZE} bytes",
            "Shrink the annotations to at most 256 KiB in total",
        )


def _check_metadata(meta: Any, namespaced: bool, run: _Run) -> None:
    if meta is None:
        run.add("metadata.name", None, "Required value: name or generateName is required", "Set metadata.name")
        return
    if not isinstance(meta, Mapping):
        run.add(
            "metadata",
            meta,
            f'Invalid value: {_show(meta)}: metadata in body must be of type object: "{_json_type(meta)}"',
            "Change it to a mapping with at least `name`",
        )
        return
    meta = _str_keys(meta)
    for key, item in meta.items():
        if key not in _OBJECT_META_FIELDS:
            close = difflib.get_close_matches(key, sorted(_OBJECT_META_FIELDS), n=1)
            run.add(
                f"metadata.{key}",
                item,
                "field not declared in schema",
                f"Did you mean `{close[0]}`? Otherwise remove `{key}`" if close else f"Remove `{key}`",
            )
    for key in ("name", "generateName", "namespace"):
        item = meta.get(key)
        if item is not None and not isinstance(item, str):
            run.add(
                f"metadata.{key}",
                item,
                f'Invalid value: {_show(item)}: metadata.{key} in body must be of type string: "{_json_type(item)}"',
                "Change it to a string",
            )
    name, generate = meta.get("name"), meta.get("generateName")
    if not name and not generate:
        run.add("metadata.name", None, "Required value: name or generateName is required", "Set metadata.name")
    for key, text, prefix in (("name", name, False), ("generateName", generate, True)):
        if not isinstance(text, str) or not text:
            continue
        checked = text[:-1] if prefix and text.endswith("-") else text
        if len(text) > 253:
            run.add(
                f"metadata.{key}",
                text,
                f"Invalid value: {_show(text)}: must be no more than 253 characters",
                "Use at most 253 characters",
            )
        elif not (_DNS1123_SUBDOMAIN.fullmatch(checked) or (prefix and not checked)):
            run.add(f"metadata.{key}", text, f"Invalid value: {_show(text)}: {_SUBDOMAIN_MSG}", _SUBDOMAIN_FIX)
    namespace = meta.get("namespace")
    if isinstance(namespace, str) and namespace:
        if not namespaced:
            run.add(
                "metadata.namespace",
                namespace,
                "Forbidden: not allowed on this type",
                "Remove metadata.namespace: this kind is cluster-scoped",
            )
        elif len(namespace) > 63:
            run.add(
                "metadata.namespace",
                namespace,
                f"Invalid value: {_show(namespace)}: must be no more than 63 characters",
                "Use at most 63 characters",
            )
        elif not _DNS1123_LABEL.fullmatch(namespace):
            run.add(
                "metadata.namespace",
                namespace,
                f"Invalid value: {_show(namespace)}: {_LABEL_MSG}",
                "Use lowercase letters, digits and '-', starting and ending with a letter or digit",
            )
    _check_string_map(meta, "labels", run)
    _check_string_map(meta, "annotations", run)


# ---------------------------------------------------------------------------------------------
# The public API
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Version:
    api_version: str
    kind: str
    schema: _Schema
    namespaced: bool
    status_subresource: bool  # then a create ignores status, except for undeclared fields


def _root_schema(raw: Mapping[str, Any]) -> _Schema:
    schema = _Schema(raw)
    # apiVersion, kind and metadata are always allowed at the root (and validated separately).
    schema.implicit = frozenset({"apiVersion", "kind", "metadata"})
    return schema


def _iter_crds(doc: Any) -> Iterable[Mapping[str, Any]]:
    if not isinstance(doc, Mapping):
        return
    if doc.get("kind") == "CustomResourceDefinition":
        yield doc
    elif str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _iter_crds(item)


class CrdSet:
    """The served versions of a set of CRDs, compiled for validating manifests against them."""

    def __init__(self, versions: Mapping[tuple[str, str], _Version]) -> None:
        self._versions = dict(versions)
        self._served_by_kind: dict[tuple[str, str], list[str]] = {}
        for api_version, kind in sorted(self._versions):
            group = api_version.rpartition("/")[0]
            self._served_by_kind.setdefault((group, kind), []).append(api_version)

    @classmethod
    def load(cls, *paths: str | os.PathLike[str]) -> CrdSet:
        """Load CRDs from multi-document YAML files (also ``kubectl get crd -o yaml`` Lists)."""
        if not paths:
            raise ValueError("CrdSet.load needs at least one path")
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        docs: list[Mapping[str, Any]] = []
        for path in paths:
            with open(path, encoding="utf-8") as stream:
                found = [crd for doc in yaml.load_all(stream, Loader=loader) for crd in _iter_crds(doc)]
            if not found:
                raise ValueError(f"{os.fspath(path)}: no CustomResourceDefinition found")
            docs.extend(found)
        return cls.from_documents(docs)

    @classmethod
    def from_documents(cls, docs: Iterable[Mapping[str, Any]]) -> CrdSet:
        """Compile CRD documents (``List`` documents are unpacked; other kinds are ignored)."""
        versions: dict[tuple[str, str], _Version] = {}
        for doc in docs:
            for crd in _iter_crds(doc):
                spec = crd.get("spec") or {}
                group = str(spec.get("group", ""))
                kind = str((spec.get("names") or {}).get("kind", ""))
                namespaced = spec.get("scope", "Namespaced") == "Namespaced"
                shared = (spec.get("validation") or {}).get("openAPIV3Schema")  # apiextensions v1beta1
                for version in spec.get("versions") or []:
                    if not version.get("served", True) or not version.get("name"):
                        continue
                    raw = (version.get("schema") or {}).get("openAPIV3Schema") or shared or {}
                    api_version = f"{group}/{version['name']}"
                    status = "status" in (version.get("subresources") or spec.get("subresources") or {})
                    versions[(api_version, kind)] = _Version(api_version, kind, _root_schema(raw), namespaced, status)
        return cls(versions)

    def kinds(self) -> frozenset[tuple[str, str]]:
        """The served ``(apiVersion, kind)`` pairs."""
        return frozenset(self._versions)

    def validate(self, manifest: Manifest) -> list[Finding]:
        """Everything the API server would reject in ``manifest`` on create; ``[]`` when valid."""
        run = _Run()
        if not isinstance(manifest, Mapping):
            run.add(
                "<root>",
                manifest,
                f"Invalid value: {_show(manifest)}: must be of type object",
                "Pass the manifest as a mapping with apiVersion, kind, metadata and spec",
            )
            return run.findings
        obj = _str_keys(manifest)
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        for field, item in (("apiVersion", api_version), ("kind", kind)):
            if not item:
                run.add(field, None, "Required value", f"Set {field}")
            elif not isinstance(item, str):
                run.add(
                    field,
                    item,
                    f'Invalid value: {_show(item)}: {field} in body must be of type string: "{_json_type(item)}"',
                    "Change it to a string",
                )
        if run.findings:
            return run.findings
        version = self._versions.get((str(api_version), str(kind)))
        if version is None:
            group = str(api_version).rpartition("/")[0]
            served = self._served_by_kind.get((group, str(kind)))
            fix = (
                f"Use apiVersion {' or '.join(served)}"
                if served
                else f"Use a kind the loaded CRDs define, or load the CRD that defines {kind}"
            )
            run.add("apiVersion", api_version, f'no matches for kind "{kind}" in version "{api_version}"', fix)
            return run.findings
        _check_metadata(obj.get("metadata"), version.namespaced, run)
        root = version.schema
        if version.status_subresource and "status" in obj:
            # "create cannot set status": the API server drops it before validating, but strict
            # field validation has already reported undeclared fields in it while decoding.
            status = _member(root, "status")
            if isinstance(status, _Schema):
                _check_unknown_only(status, obj["status"], "status", run)
            obj = {k: v for k, v in obj.items() if k != "status"}
        if root.has_defaults:
            obj = _with_defaults(root, obj)
        _check(root, obj, "", run)
        findings = run.findings + run.cel_findings
        if run.unchecked is not None:
            findings.append(
                Finding(run.unchecked, None, RULES_NOT_CHECKED, "Fix the errors above, then validate again")
            )
        return findings


_ENV_CACHE: dict[tuple[tuple[str, int, int], ...], CrdSet] = {}


def crds_from_env(default: str | None = None) -> CrdSet:
    """The CRDs at ``$ISTIO_CRDS`` (else ``default``), loaded once per file version.

    Like the policy pack's setting, the variable may list several files (``os.pathsep``-separated).
    """
    configured = os.environ.get(DEFAULT_CRDS_ENV)
    spec = configured or default
    if not spec:
        raise FileNotFoundError(
            errno.ENOENT,
            f"no CRD file: set ${DEFAULT_CRDS_ENV} to the path of Istio's CRDs (e.g. crd-all.gen.yaml)",
        )
    key = []
    paths = [Path(p).expanduser() for p in spec.split(os.pathsep) if p]
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            source = f"${DEFAULT_CRDS_ENV}" if configured else f"the default (${DEFAULT_CRDS_ENV} is not set)"
            raise FileNotFoundError(
                errno.ENOENT,
                f"CRD file {path} (from {source}) does not exist; set ${DEFAULT_CRDS_ENV} to the path of "
                "Istio's CRDs (e.g. crd-all.gen.yaml)",
                str(path),
            ) from None
        key.append((str(path.resolve()), stat.st_mtime_ns, stat.st_size))
    cached = _ENV_CACHE.get(tuple(key))
    if cached is None:
        cached = _ENV_CACHE[tuple(key)] = CrdSet.load(*paths)
    return cached
