"""Go's readings of durations, quoted strings and IP addresses (``pulumi_istio_egress.gosyntax``).

Every row below is what Go printed for the same input (Go 1.19.8 on ``time.ParseDuration``,
``netip.ParseAddr``/``ParsePrefix``, ``net.ParseIP``/``ParseCIDR``, k8s.io/utils
``ParseIPSloppy``/``ParseCIDRSloppy`` and ``strconv.Quote``), pasted as tables: Go is not needed
to run them. Rows marked "Go 1.22+" follow newer Go where it changed after 1.19 (istiod 1.30 and
current Kubernetes are built with Go 1.2x): netip's ``ParsePrefix`` refuses a sign or leading zero
in the bits, and ``ParseAddr`` refuses an IPv6 group of more than 4 hex digits (netip.go:
"strconv.Atoi accepts a leading sign and leading zeroes, but we don't want that"; "each group must
have 4 or less digits"); since Go 1.22 ``net.ParseIP`` is ``netip.ParseAddr`` without a zone.
"""

from __future__ import annotations

import datetime as dt

import pytest

from pulumi_istio_egress.conformance.durations import k8s_duration
from pulumi_istio_egress.conformance.formats import FORMATS
from pulumi_istio_egress.conformance.ips import IP_FUNCTIONS
from pulumi_istio_egress.conformance.messages import CelError
from pulumi_istio_egress.gosyntax import (
    GoSyntaxError,
    go_quote,
    net_cidr_ok,
    net_ip_ok,
    netip_addr_ok,
    netip_prefix_ok,
    parse_duration,
    time_quote,
)
from pulumi_istio_egress.jsontypes import printed_integer, whole_number
from pulumi_istio_egress.names import host_problem
from pulumi_istio_egress.webhook._syntax import is_ip

# (text, nanoseconds or None, Go's error or None)
DURATIONS = [
    ("0", 0, None),
    ("+0", 0, None),
    ("-0", 0, None),
    ("", None, "time: invalid duration \"\""),
    ("+", None, "time: invalid duration \"+\""),
    ("-", None, "time: invalid duration \"-\""),
    ("5s", 5000000000, None),
    ("30s", 30000000000, None),
    ("1478s", 1478000000000, None),
    ("-5s", -5000000000, None),
    ("+5s", 5000000000, None),
    ("-1.5h", -5400000000000, None),
    ("1.5h", 5400000000000, None),
    ("10.5s", 10500000000, None),
    ("1.004s", 1004000000, None),
    ("1.0040s", 1004000000, None),
    ("100.00100s", 100001000000, None),
    ("10ns", 10, None),
    ("11us", 11000, None),
    ("12\u00b5s", 12000, None),
    ("12\u03bcs", 12000, None),
    ("13ms", 13000000, None),
    ("14s", 14000000000, None),
    ("15m", 900000000000, None),
    ("16h", 57600000000000, None),
    ("3h30m", 12600000000000, None),
    ("10.5s4m", 250500000000, None),
    ("-2m3.4s", -123400000000, None),
    ("1h2m3s4ms5us6ns", 3723004005006, None),
    ("39h9m14.425s", 140954425000000, None),
    ("52763797000ns", 52763797000, None),
    ("0.3333333333333333333h", 1200000000000, None),
    ("9007199254740993ns", 9007199254740993, None),
    ("9223372036854775807ns", 9223372036854775807, None),
    ("9223372036854775.807us", 9223372036854775807, None),
    ("9223372036854s775ms807us807ns", None, "time: invalid duration \"9223372036854s775ms807us807ns\""),
    ("-9223372036854775808ns", -9223372036854775808, None),
    ("-9223372036854775.808us", -9223372036854775808, None),
    ("-9223372036854s775ms807us808ns", None, "time: invalid duration \"-9223372036854s775ms807us808ns\""),
    ("9223372036854775808ns", None, "time: invalid duration \"9223372036854775808ns\""),
    ("-9223372036854775809ns", None, "time: invalid duration \"-9223372036854775809ns\""),
    ("18446744073709551616ns", None, "time: invalid duration \"18446744073709551616ns\""),
    ("0.100000000000000000000h", 360000000000, None),
    ("0.830103483285477580700h", 2988372539827, None),
    ("00000000000000000000001s", 1000000000, None),
    ("000000000000000000000000000000000000001ns", 1, None),
    ("1.00000000000000000000000000000000000001s", 1000000000, None),
    ("0.123456789123456789123h", 444444440844, None),
    ("0.9999999999999999999s", 1000000000, None),
    (".5s", 500000000, None),
    ("1.s", 1000000000, None),
    (".s", None, "time: invalid duration \".s\""),
    ("-.s", None, "time: invalid duration \"-.s\""),
    ("+.5s", 500000000, None),
    ("3", None, "time: missing unit in duration \"3\""),
    ("-3", None, "time: missing unit in duration \"-3\""),
    ("1.5", None, "time: missing unit in duration \"1.5\""),
    ("1e3s", None, "time: unknown unit \"e\" in duration \"1e3s\""),
    ("1h-1m", None, "time: unknown unit \"h-\" in duration \"1h-1m\""),
    ("1S", None, "time: unknown unit \"S\" in duration \"1S\""),
    ("s", None, "time: invalid duration \"s\""),
    ("1d", None, "time: unknown unit \"d\" in duration \"1d\""),
    ("2562047h47m16.854775807s", 9223372036854775807, None),
    ("2562047h47m16.854775808s", None, "time: invalid duration \"2562047h47m16.854775808s\""),
    ("-2562047h47m16.854775808s", -9223372036854775808, None),
    ("2562048h", None, "time: invalid duration \"2562048h\""),
    ("3000000h", None, "time: invalid duration \"3000000h\""),
    ("1s ", None, "time: unknown unit \"s \" in duration \"1s \""),
    (" 1s", None, "time: invalid duration \" 1s\""),
    ("1s\n", None, "time: unknown unit \"s\\x0a\" in duration \"1s\\x0a\""),
    ("1.5.5s", None, "time: missing unit in duration \"1.5.5s\""),
    ("1..5s", None, "time: missing unit in duration \"1..5s\""),
    ("0.0000000001s", 0, None),
    ("1h1h", 7200000000000, None),
    ("1ns2", None, "time: missing unit in duration \"1ns2\""),
    ("1\u0661s", None, "time: unknown unit \"\\xd9\\xa1s\" in duration \"1\\xd9\\xa1s\""),
    ("\u0661s", None, "time: invalid duration \"\\xd9\\xa1s\""),
    ("1\u00e9", None, "time: unknown unit \"\\xc3\\xa9\" in duration \"1\\xc3\\xa9\""),
    ("1\u0001s", None, "time: unknown unit \"\\x01s\" in duration \"1\\x01s\""),
    ("1\"s", None, "time: unknown unit \"\\\"s\" in duration \"1\\\"s\""),
    ("1\\s", None, "time: unknown unit \"\\\\s\" in duration \"1\\\\s\""),
    ("1\u00a0s", None, "time: unknown unit \"\\xc2\\xa0s\" in duration \"1\\xc2\\xa0s\""),
    ("1\u00b5", None, "time: unknown unit \"\\xc2\\xb5\" in duration \"1\\xc2\\xb5\""),
    ("5m0s", 300000000000, None),
    ("300ms", 300000000, None),
    ("-1m", -60000000000, None),
    ("1ms", 1000000, None),
    ("0.5ms", 500000, None),
    ("1.5ms", 1500000, None),
    ("1000us", 1000000, None),
    ("1001us", 1001000, None),
    ("0s", 0, None),
    ("00s", 0, None),
    ("0.0s", 0, None),
    ("-0s", 0, None),
    ("1h30m", 5400000000000, None),
    ("-2us", -2000, None),
    ("300\u00b5s", 300000, None),
    ("+5ns", 5, None),
    ("9999999999999h", None, "time: invalid duration \"9999999999999h\""),
    ("1 s", None, "time: unknown unit \" s\" in duration \"1 s\""),
    ("soon", None, "time: invalid duration \"soon\""),
    ("999999ns", 999999, None),
    ("1000\u03bcs", 1000000, None),
    ("5.s", 5000000000, None),
    ("+1h1m", 3660000000000, None),
]


@pytest.mark.parametrize(("text", "ns", "error"), DURATIONS)
def test_parse_duration_agrees_with_go_time_parseduration(text: str, ns: int | None, error: str | None) -> None:
    if error is None:
        assert parse_duration(text) == ns
    else:
        with pytest.raises(GoSyntaxError) as raised:
            parse_duration(text)
        assert str(raised.value) == error


@pytest.mark.parametrize(("text", "ns", "error"), DURATIONS)
def test_cel_duration_takes_what_go_takes(text: str, ns: int | None, error: str | None) -> None:
    """cel-go's ``duration(string)`` converts with ``time.ParseDuration`` and fails with its own
    conversion error; Python's timedelta keeps microseconds, floored."""
    if error is None:
        assert k8s_duration(text) == dt.timedelta(microseconds=(ns or 0) // 1000)
    else:
        with pytest.raises(CelError) as raised:
            k8s_duration(text)
        assert str(raised.value) == "type conversion error from 'string' to 'google.protobuf.Duration'"


# (text, netip.ParseAddr, net.ParseIP, k8s ParseIPSloppy)
ADDRESSES = [
    ("1.2.3.4", True, True, True),
    ("0.0.0.0", True, True, True),
    ("255.255.255.255", True, True, True),
    ("256.1.1.1", False, False, False),
    ("01.2.3.4", False, False, True),
    ("1.2.3.04", False, False, True),
    ("1.2.3.0000004", False, False, True),
    ("1.2.3", False, False, False),
    ("1.2.3.4.5", False, False, False),
    ("::", True, True, True),
    ("::1", True, True, True),
    ("2001:db8::1", True, True, True),
    ("2001:DB8::1", True, True, True),
    ("::ffff:1.2.3.4", True, True, True),
    ("::1.2.3.4", True, True, True),
    ("1:2:3:4:5:6:7:8", True, True, True),
    ("1:2:3:4:5:6:7:8:9", False, False, False),
    ("1::2::3", False, False, False),
    ("1:2:3:4:5:6:1.2.3.4", True, True, True),
    ("1:2:3:4:5:6:7:1.2.3.4", False, False, False),
    ("::ffff:01.2.3.4", False, False, True),
    ("fe80::1%eth0", True, False, False),
    ("fe80::1%", False, False, False),
    ("1.2.3.4%eth0", False, False, False),
    ("fe80::1%a%b", True, False, False),
    ("::ffff:1.2.3.4%x", True, False, False),
    ("[::1]", False, False, False),
    ("", False, False, False),
    (" 1.2.3.4", False, False, False),
    ("1.2.3.4 ", False, False, False),
    ("0x1.2.3.4", False, False, False),
    ("00000::1", False, False, True),  # Go 1.22+ (see above); Go 1.19 said True, True
    ("0000::1", True, True, True),
    ("12345::", False, False, False),
    ("\u0661.2.3.4", False, False, False),
    ("1.2.3.-4", False, False, False),
    ("+1.2.3.4", False, False, False),
    ("1.2.3.4:80", False, False, False),
    ("::1:", False, False, False),
    (":1::", False, False, False),
    ("1:::2", False, False, False),
    ("fe80::1%eth0/64", True, False, False),
    ("a.b.c.d", False, False, False),
    ("1:2:3:4:5:6:7::", True, True, True),
    ("::2:3:4:5:6:7:8", True, True, True),
    ("1:2:3:4:5:6:7::8", False, False, False),
]


@pytest.mark.parametrize(("text", "netip", "net", "sloppy"), ADDRESSES)
def test_ip_addresses_as_go_parses_them(text: str, netip: bool, net: bool, sloppy: bool) -> None:
    assert (netip_addr_ok(text), net_ip_ok(text), net_ip_ok(text, sloppy=True)) == (netip, net, sloppy)


IS_AN_IP = "it is an IP address, not a host name"
# host_problem reads "" as empty and "/" as a path before it looks for an IP; it unwraps "[...]" itself.
HOST_ADDRESSES = [a for a in ADDRESSES if a[0] and a[0][0] != "[" and "/" not in a[0]]


@pytest.mark.parametrize(("text", "netip", "net", "sloppy"), HOST_ADDRESSES)
def test_webhook_and_host_names_read_ips_as_netip(text: str, netip: bool, net: bool, sloppy: bool) -> None:
    """istiod's ``ValidateIPAddress`` is ``netip.ParseAddr``; a host that netip reads as an address,
    bracketed or not, is an IP to ``names.host_problem`` too (one reading of IPs in the package)."""
    assert (is_ip(text), host_problem(text) == IS_AN_IP, host_problem(f"[{text}]") == IS_AN_IP) == (netip,) * 3


# (text, Kubernetes CEL isIP): netip.ParseAddr, minus zones and IPv4-mapped IPv6 (ip.go parseIPAddr)
CEL_IS_IP = [
    ("1.2.3.4", True),
    ("2001:db8::1", True),
    ("0000::1", True),
    ("::1.2.3.4", True),  # IPv4-compatible, not mapped: Is4In6 is false
    ("01.2.3.4", False),  # netip: leading zero
    ("00000::1", False),  # netip (Go 1.22+): more than 4 hex digits
    ("\u0661.2.3.4", False),
    ("fe80::1%eth0", False),  # "IP address ... with zone value is not allowed"
    ("::ffff:1.2.3.4", False),  # "IPv4-mapped IPv6 address ... is not allowed"
    ("::ffff:102:304", False),  # the same address in hex
    ("::ffff:1.2.3.4%x", False),
    ("edition.cnn.com", False),
]


@pytest.mark.parametrize(("text", "ok"), CEL_IS_IP)
def test_cel_is_ip_is_netip_without_zones_or_mapped_ipv4(text: str, ok: bool) -> None:
    assert IP_FUNCTIONS["isIP"](text) is ok


# (text, netip.ParsePrefix, net.ParseCIDR, k8s ParseCIDRSloppy)
PREFIXES = [
    ("10.0.0.0/8", True, True, True),
    ("10.0.0.1/8", True, True, True),
    ("10.0.0.0/33", False, False, False),
    ("10.0.0.0/08", False, True, True),  # Go 1.22+ netip (see above); Go 1.19 said True
    ("10.0.0.0/0", True, True, True),
    ("10.0.0.0/", False, False, False),
    ("10.0.0.0", False, False, False),
    ("::/0", True, True, True),
    ("::1/128", True, True, True),
    ("::1/129", False, False, False),
    ("fe80::1%eth0/64", False, False, False),
    ("10.0.0.0/+8", False, False, False),  # Go 1.22+ netip (see above); Go 1.19 said True
    ("10.0.0.0/ 8", False, False, False),
    ("10.0.0.0/8/8", False, False, False),
    ("::ffff:1.2.3.4/96", True, True, True),
    ("::ffff:1.2.3.4/128", True, True, True),
    ("1.2.3.4/32", True, True, True),
    ("01.2.3.4/8", False, False, True),
    ("10.0.0.0/-1", False, False, False),
    ("10.0.0.0/-0", False, False, False),  # Go 1.22+ netip (see above); Go 1.19 said True
    ("2001:db8::/\u0661", False, False, False),
    ("/8", False, False, False),
    ("10.0.0.0/8 ", False, False, False),
    ("10.0.0.0/0008", False, True, True),  # Go 1.22+ netip (see above); Go 1.19 said True
    ("2001:db8::/048", False, True, True),  # Go 1.22+ netip (see above); Go 1.19 said True
]


@pytest.mark.parametrize(("text", "netip", "net", "sloppy"), PREFIXES)
def test_ip_prefixes_as_go_parses_them(text: str, netip: bool, net: bool, sloppy: bool) -> None:
    assert (netip_prefix_ok(text), net_cidr_ok(text), net_cidr_ok(text, sloppy=True)) == (netip, net, sloppy)


# (text, strconv.Quote(text), which is also what %q prints)
QUOTES = [
    ("abc", "\"abc\""),
    ("", "\"\""),
    ("a\"b", "\"a\\\"b\""),
    ("a\\b", "\"a\\\\b\""),
    ("tab\there", "\"tab\\there\""),
    ("nl\n", "\"nl\\n\""),
    ("\u0000", "\"\\x00\""),
    ("\u007f", "\"\\x7f\""),
    ("caf\u00e9", "\"caf\u00e9\""),
    ("\u00a0", "\"\\u00a0\""),
    ("\u200b", "\"\\u200b\""),
    ("\U0001f600", "\"\U0001f600\""),
    ("\u2028", "\"\\u2028\""),
    ("\u001b[0m", "\"\\x1b[0m\""),
    ("<&>", "\"<&>\""),
    ("'", "\"'\""),
    ("\ufeff", "\"\\ufeff\""),
    ("\u0301", "\"\u0301\""),
]


@pytest.mark.parametrize(("text", "quoted"), QUOTES)
def test_go_quote_is_strconv_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("1s", '"1s"'),
        ('a"b\\c', '"a\\"b\\\\c"'),
        ("\u00b5s", '"\\xc2\\xb5s"'),  # every byte of a non-ASCII rune, unlike strconv.Quote
        ("\x7f\t", '"\x7f\\x09"'),  # DEL stays as it is; control characters are bytes too
        ("\U0001f600", '"\\xf0\\x9f\\x98\\x80"'),
    ],
)
def test_time_quote_is_the_time_packages_quote(text: str, quoted: str) -> None:
    assert time_quote(text) == quoted


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (443, 443),
        (443.0, 443),
        (-1.0, -1),
        (443.5, None),
        (True, None),
        (False, None),
        ("443", None),
        (None, None),
        (float("inf"), None),
        (float("nan"), None),
    ],
)
def test_whole_number_takes_integral_floats_as_pulumi_sends_them(value: object, number: int | None) -> None:
    assert whole_number(value) == number


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        # fmt.Sprint(float64(x)) and json.Marshal(float64(x)) in Go print these without a fraction...
        (150.0, 150),
        (-0.0, 0),
        (1e3, 1000),
        (1e20, 100000000000000000000),
        (-1e20, -100000000000000000000),
        # ...and these with one or with an exponent ("1e+21", "1.5", "+Inf" / an error for JSON).
        (1e21, None),
        (-1e21, None),
        (1.5, None),
        (float("inf"), None),
        (float("nan"), None),
    ],
)
def test_printed_integer_is_how_go_writes_an_integral_float(value: float, printed: int | None) -> None:
    assert printed_integer(value) == printed


@pytest.mark.parametrize(
    ("fmt", "text", "ok"),
    [
        ("ipv4", "10.0.0.1", True),
        ("ipv4", "010.000.000.001", True),  # ParseIPSloppy: leading zeros are decimal
        ("ipv4", "::ffff:1.2.3.4", True),  # strfmt only asks for an IP with a dot
        ("ipv4", "::1", False),
        ("ipv4", "256.0.0.1", False),
        ("ipv6", "2001:db8::1", True),
        ("ipv6", "::ffff:01.2.3.4", False),  # strict net.ParseIP
        ("ipv6", "fe80::1%eth0", False),  # net.ParseIP has no zones
        ("cidr", "10.0.0.0/08", True),  # dtoi: leading zeros in the bits
        ("cidr", "010.0.0.0/8", True),
        ("cidr", "10.0.0.0/+8", False),
        ("cidr", "10.0.0.0", False),
    ],
)
def test_crd_ip_formats_are_kube_openapis(fmt: str, text: str, ok: bool) -> None:
    """kube-openapi's strfmt registry: ``ipv4`` and ``cidr`` use k8s.io/utils' sloppy parsers,
    ``ipv6`` govalidator's ``net.ParseIP`` and a ':'."""
    assert FORMATS[fmt](text) is ok
