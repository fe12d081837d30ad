"""allowed-ports: external ports must be on the organisation's list."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import dicts, is_external_service_entry, port_number, spec
from .rule import Config, ResourceRule

DEFAULT_PORTS = [80, 443]


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if not is_external_service_entry(manifest):
        return
    value = config.get("allowedPorts", DEFAULT_PORTS)
    allowed = {port_number(p) for p in value} if isinstance(value, list) else set(DEFAULT_PORTS)
    for i, port in dicts(spec(manifest).get("ports")):
        number = port_number(port.get("number"))
        if number is not None and number not in allowed:
            yield Finding(f"spec.ports[{i}].number", number, "the port is not in allowedPorts",
                          f"use one of {sorted(p for p in allowed if p is not None)}, or have it added to allowedPorts")


RULE = ResourceRule(
    name="allowed-ports",
    description="MESH_EXTERNAL ServiceEntry ports are in allowedPorts.",
    severity="medium",
    enforcement="mandatory",
    check=check,
    config_schema={"allowedPorts": {
        "type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}, "default": DEFAULT_PORTS,
        "description": "Ports external hosts may be reached on.",
    }},
)
