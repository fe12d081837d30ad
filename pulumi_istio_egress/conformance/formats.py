"""String checks of CRD schemas: Go RE2 ``pattern``s and the ``format``s Kubernetes enforces."""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import re
from collections.abc import Callable

from ..gosyntax import net_cidr_ok, net_ip_ok
from .messages import CelError
from .urls import parse_url


# Regular expressions: CRD patterns are Go RE2 syntax
def go_regex(pattern: str) -> re.Pattern[str]:
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


# Formats Kubernetes enforces (apiextensions-apiserver's format registry)

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


def is_date_time(s: str) -> bool:
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
        parse_url(s, via_request=True)
    except CelError:
        return False
    return True


def _matcher(rx: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda s: rx.fullmatch(s) is not None


FORMATS: dict[str, Callable[[str], bool]] = {
    "byte": _is_byte,
    "date-time": is_date_time,
    "datetime": is_date_time,
    "date": _is_date,
    # kube-openapi's strfmt: ipv4 and cidr tolerate leading zeros (k8s.io/utils ParseIPSloppy,
    # ParseCIDRSloppy, for values stored before Go 1.17); ipv6 is govalidator's strict net.ParseIP.
    "ipv4": lambda s: "." in s and net_ip_ok(s, sloppy=True),
    "ipv6": lambda s: ":" in s and net_ip_ok(s),
    "cidr": lambda s: net_cidr_ok(s, sloppy=True),
    **{name: _matcher(rx) for name, rx in _UUID.items()},
    "uri": _is_uri,
    "mac": _is_mac,
    "hexcolor": lambda s: re.fullmatch(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", s) is not None,
    "bsonobjectid": lambda s: re.fullmatch(r"[0-9a-fA-F]{24}", s) is not None,
    "password": lambda s: True,
}
# Enforced by Kubernetes but not implemented here: reported as "could not evaluate".
UNCHECKED_FORMATS = frozenset(
    {"email", "hostname", "isbn", "isbn10", "isbn13", "creditcard", "ssn", "rgbcolor", "duration"}
)

FORMAT_HINTS = {
    "byte": "padded standard base64",
    "date-time": "an RFC 3339 timestamp such as 2024-01-02T15:04:05Z",
    "datetime": "an RFC 3339 timestamp such as 2024-01-02T15:04:05Z",
    "date": "a date such as 2024-01-02",
}
