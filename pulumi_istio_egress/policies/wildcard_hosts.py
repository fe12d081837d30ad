"""no-wildcard-hosts: a wildcard ServiceEntry opens egress to every name under it."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import kind_of, spec, string_list, strings
from .rule import Config, ResourceRule


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if kind_of(manifest) != "ServiceEntry":
        return
    allowed = {h.lower() for h in string_list(config, "allowedWildcards")}
    for i, host in strings(spec(manifest).get("hosts")):
        if (host == "*" or host.startswith("*.")) and host.lower() not in allowed:
            yield Finding(f"spec.hosts[{i}]", host, "wildcard hosts allow egress to any name they cover",
                          "list the concrete hosts, or add this pattern to allowedWildcards")


RULE = ResourceRule(
    name="no-wildcard-hosts",
    description="ServiceEntries name concrete hosts, not '*' or '*.domain' (unless in allowedWildcards).",
    severity="medium",
    enforcement="mandatory",
    check=check,
    config_schema={"allowedWildcards": {
        "type": "array", "items": {"type": "string"}, "default": [],
        "description": "Wildcard hosts that are accepted anyway, e.g. *.googleapis.com",
    }},
)
