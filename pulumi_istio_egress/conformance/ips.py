"""Kubernetes' CEL IP library, as far as CRDs we validate call it (Gateway API: ``isIP``).

Kubernetes parses with Go's ``netip.ParseAddr`` (``gosyntax.netip_addr_ok``, the one reading of it
in this package) and then refuses two forms that parser accepts, which is all that differs from
istiod's ``ValidateIPAddress`` (``webhook._syntax.is_ip``): an IPv6 zone (``fe80::1%eth0``) and an
IPv4-mapped IPv6 address (``::ffff:1.2.3.4``, also written ``::ffff:102:304``), because they do
not name one address unambiguously (``k8s.io/apiserver/pkg/cel/library/ip.go``, ``parseIPAddr``:
``addr.Zone() != ""`` and ``addr.Is4In6()``). ``isIP`` answers false for anything ``ip()`` would refuse.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from ..gosyntax import netip_addr_ok


def parse_ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address Kubernetes' ``ip()`` accepts for ``raw``, else None."""
    if "%" in raw or not netip_addr_ok(raw):  # netip's syntax; Kubernetes forbids zones
        return None
    # Well-formed for netip, so for Python too: ipaddress only gives the value (for Is4In6).
    addr = ipaddress.ip_address(raw)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return None
    return addr


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str):
        raise TypeError(f"isIP() of {type(value).__name__}")
    return parse_ip(value) is not None


IP_FUNCTIONS: dict[str, Callable[..., Any]] = {"isIP": _is_ip}
"""Kubernetes' CEL IP library, by CEL function name (the string overloads only)."""
