"""dns-resolution-for-external-hosts: without DNS resolution the gateway trusts the Host header.

With ``resolution: NONE`` (the default) the gateway forwards to whatever address the connection
was for, so a client can name an allowed host and reach any address; an egress gateway forwarding
to itself loops.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import is_external_service_entry, spec, strings
from .rule import Config, ResourceRule

DNS = ("DNS", "DNS_ROUND_ROBIN")


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if not is_external_service_entry(manifest):
        return
    body = spec(manifest)
    if all(host.startswith("*") for _, host in strings(body.get("hosts"))):
        return  # wildcards cannot be resolved by DNS; no-wildcard-hosts judges them
    resolution = body.get("resolution", "NONE")
    if resolution not in DNS:
        yield Finding("spec.resolution", resolution,
                      "an external host must be resolved by DNS so traffic goes to that host only",
                      "set resolution: DNS")


RULE = ResourceRule(
    name="dns-resolution-for-external-hosts",
    description="MESH_EXTERNAL ServiceEntries for concrete hosts use resolution DNS.",
    severity="medium",
    enforcement="mandatory",
    check=check,
)
