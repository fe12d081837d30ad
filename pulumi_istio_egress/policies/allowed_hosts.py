"""allowed-hosts: external hosts must be on the organisation's list."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import host_matches, is_external_service_entry, spec, string_list, strings
from .rule import Config, ResourceRule


def applies(manifest: Manifest, config: Config) -> str | None:
    if not isinstance(config.get("allowedHosts"), list):
        return "allowedHosts is not configured: every host is allowed"
    return None if is_external_service_entry(manifest) else "not a MESH_EXTERNAL ServiceEntry"


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if applies(manifest, config):
        return
    allowed = string_list(config, "allowedHosts")
    for i, host in strings(spec(manifest).get("hosts")):
        if not any(host_matches(pattern, host) for pattern in allowed):
            yield Finding(f"spec.hosts[{i}]", host, "the external host is not in allowedHosts",
                          "remove it, or ask the security team to add it to allowedHosts")


RULE = ResourceRule(
    name="allowed-hosts",
    description="MESH_EXTERNAL ServiceEntry hosts must match allowedHosts (when configured).",
    severity="high",
    enforcement="mandatory",
    check=check,
    applies=applies,
    config_schema={"allowedHosts": {
        "type": "array", "items": {"type": "string"},
        "description": "Host patterns that may be reached, e.g. api.stripe.com, *.github.com. Unset: no limit.",
    }},
)
