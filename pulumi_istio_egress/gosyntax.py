"""Go's readings of text that istiod and the Kubernetes API server apply: durations, quoting, IPs.

One definition each, shared by the webhook mirror (``webhook/``) and the CRD layer
(``conformance/``), so the two cannot drift apart again. Each function names the Go function it
follows; ``tests/test_gosyntax.py`` holds the vectors, produced by running Go on the same inputs.
Pure standard library: the component may import this module.
"""

from __future__ import annotations

# -- durations: Go's time.ParseDuration (src/time/format.go) -------------------------------------

_LIMIT = 1 << 63  # |math.MinInt64|: the magnitude a negative duration may reach, one past MaxInt64
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # MICRO SIGN
    "\u03bcs": 1_000,  # GREEK SMALL LETTER MU
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


class GoSyntaxError(ValueError):
    """Go refused the text; ``str(error)`` is Go's own error message, word for word."""


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"  # ASCII only: str.isdigit() would also take other scripts' digits


def parse_duration(text: str) -> int:
    """Nanoseconds, as Go's ``time.ParseDuration`` reads ``text``; else :class:`GoSyntaxError`.

    The same grammar and limits as Go: an optional sign, then ``<digits>[.<digits>]<unit>`` parts
    (``.5s`` and ``1.s`` are fine, ``.s`` is not), units ``ns us µs μs ms s m h``, a total in
    ``[-2**63, 2**63 - 1]``. Fractions are scaled in float64 as Go does, so ``0.3333333333333333333h``
    is ``1200000000000`` here too; digits past what a uint64 holds only lose precision.
    """

    def invalid() -> GoSyntaxError:
        return GoSyntaxError("time: invalid duration " + time_quote(text))

    s, negative = text, False
    if s[:1] in ("-", "+"):
        negative, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid()
    total, i, end = 0, 0, len(s)
    while i < end:
        if not (s[i] == "." or _is_digit(s[i])):
            raise invalid()
        start = i
        whole = 0
        while i < end and _is_digit(s[i]):
            whole = whole * 10 + ord(s[i]) - 48
            if whole > _LIMIT:  # Go's leadingInt overflow
                raise invalid()
            i += 1
        digits_before = i > start
        frac, scale, digits_after = 0, 1.0, False
        if i < end and s[i] == ".":
            i += 1
            start = i
            saturated = False  # Go's leadingFraction stops adding precision instead of failing
            while i < end and _is_digit(s[i]):
                if not saturated:
                    grown = frac * 10 + ord(s[i]) - 48
                    if frac > (_LIMIT - 1) // 10 or grown > _LIMIT:
                        saturated = True
                    else:
                        frac, scale = grown, scale * 10
                i += 1
            digits_after = i > start
        if not digits_before and not digits_after:
            raise invalid()
        start = i
        while i < end and not (s[i] == "." or _is_digit(s[i])):
            i += 1
        if i == start:
            raise GoSyntaxError("time: missing unit in duration " + time_quote(text))
        unit = _UNITS.get(s[start:i])
        if unit is None:
            raise GoSyntaxError(f"time: unknown unit {time_quote(s[start:i])} in duration {time_quote(text)}")
        if whole > _LIMIT // unit:
            raise invalid()
        value = whole * unit
        if frac:
            value += int(float(frac) * (float(unit) / scale))  # float64, truncated, as in Go
            if value > _LIMIT:
                raise invalid()
        total += value
        if total > _LIMIT:
            raise invalid()
    if negative:
        return -total
    if total > _LIMIT - 1:
        raise invalid()
    return total


# -- quoting -------------------------------------------------------------------------------------

_SHORT_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` (what ``%q`` prints): printable runes stay, the rest are escaped.

    Go's ``unicode.IsPrint`` (letters, marks, numbers, punctuation, symbols, ASCII space) is the
    set Python's ``str.isprintable`` describes, so that decides here.
    """
    out = ['"']
    for ch in text:
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[ch])
        elif ch < " " or ch == "\x7f":
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def time_quote(text: str) -> str:
    """The ``time`` package's own ``quote`` in its errors: every byte of a non-ASCII or control
    character as ``\\xNN``, ``"`` and ``\\`` escaped, everything else as it is."""
    out = ['"']
    for ch in text:
        if ch >= "\x80" or ch < " ":
            out.extend(f"\\x{byte:02x}" for byte in ch.encode("utf-8", "surrogatepass"))
        elif ch in ('"', "\\"):
            out.append("\\" + ch)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# -- IP addresses: net/netip (current Go), net, and Kubernetes' "sloppy" net ---------------------


def _ipv4(s: str, *, sloppy: bool) -> bool:
    """Four decimal fields up to 255. Go's netip refuses leading zeros ("IPv4 field has octet
    with leading zero"); Go before 1.17, kept by Kubernetes as ``ParseIPSloppy``, took them."""
    fields = s.split(".")
    if len(fields) != 4:
        return False
    for field in fields:
        if not field or not all(_is_digit(c) for c in field):
            return False
        if not sloppy and len(field) > 1 and field[0] == "0":
            return False
        if int(field) > 255:
            return False
    return True


def _ipv6(s: str, *, sloppy: bool) -> bool:
    """netip's ``parseIPv6`` without the zone: hex groups of 1-4 digits (any number of digits up to
    0xffff when sloppy), at most one ``::`` standing for at least one zero group, and an embedded
    IPv4 address only as the last 32 bits."""
    if s.count("::") > 1 or ":::" in s:
        return False
    head, ellipsis, tail = s.partition("::")
    groups_head = head.split(":") if head else []
    groups_tail = tail.split(":") if tail else []
    groups = groups_head + groups_tail
    width = 0
    for n, group in enumerate(groups):
        if "." in group:
            if n != len(groups) - 1 or not _ipv4(group, sloppy=sloppy):
                return False
            width += 2
            continue
        if not group or (len(group) > 4 and not sloppy):
            return False
        if not all(c in "0123456789abcdefABCDEF" for c in group) or int(group, 16) > 0xFFFF:
            return False
        width += 1
    if ellipsis:
        return width < 8
    return width == 8


def netip_addr_ok(text: str) -> bool:
    """Go's ``netip.ParseAddr``: IPv4 dotted decimal, or IPv6 with an optional non-empty zone
    (``fe80::1%eth0``; the zone may hold any character). The first ``.``, ``:`` or ``%`` decides
    the family, so ``1.2.3.4%eth0`` is a malformed IPv4 address."""
    for ch in text:
        if ch == ".":
            return _ipv4(text, sloppy=False)
        if ch == ":":
            address, percent, zone = text.partition("%")
            return not (percent and not zone) and _ipv6(address, sloppy=False)
        if ch == "%":
            return False
    return False


def net_ip_ok(text: str, *, sloppy: bool = False) -> bool:
    """Go's ``net.ParseIP`` (since Go 1.22 ``netip.ParseAddr`` refusing any zone); with ``sloppy``,
    Kubernetes' ``ParseIPSloppy`` (k8s.io/utils/net), Go 1.16's parser, which takes leading
    zeros in IPv4 fields and long zero-padded IPv6 groups."""
    if "%" in text:
        return False
    if ":" in text:
        return _ipv6(text, sloppy=sloppy)
    return _ipv4(text, sloppy=sloppy)


def _ip_bits(text: str) -> int:
    return 128 if ":" in text else 32  # IPv4-mapped ::ffff:a.b.c.d is IPv6: 128 bits


def netip_prefix_ok(text: str) -> bool:
    """Go's ``netip.ParsePrefix`` (Go 1.22+): ``address/bits`` split at the last ``/``, no zone,
    bits in decimal without sign or leading zero (``/08``, ``/+8`` and ``/-0`` are refused), host
    bits may be set."""
    address, slash, bits = text.rpartition("/")
    if not slash or not netip_addr_ok(address) or "%" in address:
        return False
    if not bits or not all(_is_digit(c) for c in bits) or (len(bits) > 1 and bits[0] == "0"):
        return False
    return int(bits) <= _ip_bits(address)


def net_cidr_ok(text: str, *, sloppy: bool = False) -> bool:
    """Go's ``net.ParseCIDR``: split at the first ``/``, the address as :func:`net_ip_ok`, the bits
    as Go's ``dtoi`` reads them (decimal digits, leading zeros allowed, no sign); with ``sloppy``,
    Kubernetes' ``ParseCIDRSloppy``."""
    address, slash, bits = text.partition("/")
    if not slash or not net_ip_ok(address, sloppy=sloppy):
        return False
    if not bits or not all(_is_digit(c) for c in bits):
        return False
    return int(bits) <= _ip_bits(address)
