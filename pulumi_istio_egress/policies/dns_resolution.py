"""dns-resolution-for-external-hosts: without DNS resolution the gateway trusts the Host header.

With ``resolution: NONE`` (the default) the gateway forwards to whatever address the connection
was for, so a client can name an allowed host and reach any address; an egress gateway forwarding
to itself loops. Two resolutions pin the addresses and are fine: NONE with ``addresses`` (traffic is
captured only for those IPs/CIDRs, and istiod refuses DNS with CIDR addresses: "CIDR addresses are
allowed only for NONE/STATIC resolution types", ``ValidateServiceEntry`` in
pkg/config/validation/validation.go; Istio's samples/external/github.yaml is such an entry) and
STATIC (traffic goes to the listed endpoints only).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import is_external_service_entry, spec, strings
from .remediations import dns_resolution
from .rule import Config, ResourceRule

DNS = ("DNS", "DNS_ROUND_ROBIN")


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if not is_external_service_entry(manifest):
        return
    body = spec(manifest)
    if all(host.startswith("*") for _, host in strings(body.get("hosts"))):
        return  # wildcards cannot be resolved by DNS; no-wildcard-hosts judges them
    resolution = body.get("resolution", "NONE")
    pinned = resolution == "STATIC" or (resolution == "NONE" and any(True for _ in strings(body.get("addresses"))))
    if resolution not in DNS and not pinned:
        yield Finding("spec.resolution", resolution,
                      "an external host must be resolved by DNS so traffic goes to that host only",
                      "set resolution: DNS (or pin the addresses: `addresses` with NONE, or STATIC endpoints)")


RULE = ResourceRule(
    name="dns-resolution-for-external-hosts",
    description="MESH_EXTERNAL ServiceEntries for concrete hosts use resolution DNS or pin their addresses.",
    severity="medium",
    enforcement="mandatory",
    check=check,
    remediate=dns_resolution,
)
