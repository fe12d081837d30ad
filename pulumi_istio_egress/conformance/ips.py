"""Kubernetes' CEL IP library, as far as CRDs we validate call it (Gateway API: ``isIP``).

Kubernetes parses with Go's ``netip.ParseAddr`` and then refuses two forms that parser accepts:
an IPv6 zone (``fe80::1%eth0``) and an IPv4-mapped IPv6 address (``::ffff:1.2.3.4``), because
they do not name one address unambiguously (``k8s.io/apiserver/pkg/cel/library/ip.go``,
``parseIPAddr``). ``isIP`` answers false for anything ``ip()`` would refuse.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any


def parse_ip(raw: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address Kubernetes' ``ip()`` accepts for ``raw``, else None."""
    if not raw.isascii() or "%" in raw:  # netip has no scripts but ASCII; Kubernetes forbids zones
        return None
    try:
        # Python, like netip, rejects IPv4 octets with leading zeros ("010.0.0.1").
        addr = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return None
    return addr


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str):
        raise TypeError(f"isIP() of {type(value).__name__}")
    return parse_ip(value) is not None


IP_FUNCTIONS: dict[str, Callable[..., Any]] = {"isIP": _is_ip}
"""Kubernetes' CEL IP library, by CEL function name (the string overloads only)."""
