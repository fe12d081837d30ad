"""allowed-ports: external ports must be on the organisation's list."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import dicts, is_external_service_entry, port_number, spec
from .rule import Config, ResourceRule


def applies(manifest: Manifest, config: Config) -> str | None:
    # Like allowedHosts: an organisation that has not listed its ports has no port policy. A built-in
    # [80, 443] failed Istio's documented routes on other ports (port 8443) by default.
    if not isinstance(config.get("allowedPorts"), list):
        return "allowedPorts is not configured: every port is allowed"
    return None if is_external_service_entry(manifest) else "not a MESH_EXTERNAL ServiceEntry"


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if applies(manifest, config):
        return
    allowed = {port_number(p) for p in config["allowedPorts"]}
    for i, port in dicts(spec(manifest).get("ports")):
        number = port_number(port.get("number"))
        if number is not None and number not in allowed:
            yield Finding(f"spec.ports[{i}].number", number, "the port is not in allowedPorts",
                          f"use one of {sorted(p for p in allowed if p is not None)}, or have it added to allowedPorts")


RULE = ResourceRule(
    name="allowed-ports",
    description="MESH_EXTERNAL ServiceEntry ports are in allowedPorts (when configured).",
    severity="medium",
    enforcement="mandatory",
    check=check,
    applies=applies,
    config_schema={"allowedPorts": {
        "type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535},
        "description": "Ports external hosts may be reached on. Unset: the rule does not apply.",
    }},
)
