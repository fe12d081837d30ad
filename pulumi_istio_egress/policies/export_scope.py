"""export-to-scoped: egress objects are visible only where they are needed.

ServiceEntries always count. A VirtualService counts as egress when it binds both ``mesh`` and a
Gateway (the mesh -> gateway -> host shape); a DestinationRule when it originates TLS (SIMPLE or
MUTUAL) or targets an egress gateway Service (host starting ``istio-egressgateway``/containing
``egressgateway``).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import MESH, destination_rule_tls, kind_of, spec, strings
from .remediations import export_to_private
from .rule import Config, ResourceRule


def _is_egress(manifest: Manifest) -> bool:
    kind, body = kind_of(manifest), spec(manifest)
    if kind == "ServiceEntry":
        return True
    if kind == "VirtualService":
        gateways = [g for _, g in strings(body.get("gateways"))]
        return MESH in gateways and any(g != MESH for g in gateways)
    if kind == "DestinationRule":
        host = body.get("host")
        if isinstance(host, str) and "egressgateway" in host:
            return True
        return any(tls.get("mode") in ("SIMPLE", "MUTUAL") for _, tls in destination_rule_tls(manifest))
    return False


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if not _is_egress(manifest):
        return
    export_to = spec(manifest).get("exportTo")
    if not isinstance(export_to, list) or not export_to:
        yield Finding("spec.exportTo", None, "unset exportTo exports the object to every namespace",
                      "set exportTo to '.' and the client namespaces that need it")
        return
    for i, entry in strings(export_to):
        if entry == "*":
            yield Finding(f"spec.exportTo[{i}]", entry, "'*' exports the object to every namespace",
                          "list '.' and the client namespaces that need it instead")


RULE = ResourceRule(
    name="export-to-scoped",
    description="ServiceEntries and egress VirtualServices/DestinationRules set exportTo without '*'.",
    severity="medium",
    enforcement="mandatory",
    check=check,
    remediate=export_to_private,
)
