"""export-to-scoped: egress objects are visible only where they are needed.

ServiceEntries always count. A VirtualService counts as egress when it binds both ``mesh`` and a
Gateway (the mesh -> gateway -> host shape); a DestinationRule when it originates TLS (SIMPLE or
MUTUAL) or targets an egress gateway Service (host starting ``istio-egressgateway``/containing
``egressgateway``).

This rule owns the fact "this egress object is visible in every namespace" (exportTo unset, empty,
without namespace names, or with ``*``: ``objects.exported_to``). ``egress-visibility`` asks
``objects.reports_everywhere`` and leaves those objects' scope to this rule, so the fact is reported
once; it reports the scope only of the egress objects it finds through the stack and this rule
cannot recognise alone (a mesh-only VirtualService routing to the gateway, the subset
DestinationRule of a gateway Service with another name).

A DestinationRule with a ``workloadSelector`` is not asked for exportTo: istiod never exports it past
its own namespace, whatever exportTo says (``PushContext.setDestinationRules``, push_context.go), and
applies it to the selected workloads only (``SidecarScope.DestinationRule``, sidecar.go).

Ambient: exportTo does not scope a ServiceEntry for ambient clients (``waypoints.AMBIENT_IGNORES_EXPORT_TO``).
For a ServiceEntry whose own ``istio.io/use-waypoint`` label binds it to a waypoint the finding says
so: exportTo still scopes sidecar clients, and only that is what it asks for. A binding inherited
from the Namespace's label is not visible to a resource rule, so such an entry gets the plain message.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import for_egress_gateway, kind_of, reports_everywhere, spec, strings
from .rule import Config, ResourceRule
from .waypoints import AMBIENT_IGNORES_EXPORT_TO, own_waypoint

SERVICE_ENTRY_EVERYWHERE = ("the object to every namespace's sidecars (ztunnel and waypoints ignore exportTo: it never "
                            "scopes ambient clients)")
FIX = "set exportTo to '.' and the client namespaces that need it"
FIX_STAR = "list '.' and the client namespaces that need it instead"
FIX_ORIGINATING = ("set exportTo to ['.'] where the egress gateway originates TLS (only the gateway needs the rule, "
                   "and sidecars that see it would originate TLS themselves); list client namespaces only when their "
                   "sidecars originate")


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if not reports_everywhere(manifest):
        return
    # An originating DestinationRule is the gateway's alone when the gateway originates; the
    # object alone cannot tell that from origination at the sidecar, so the fix names both.
    originating = kind_of(manifest) == "DestinationRule" and not for_egress_gateway(manifest)
    waypoint = own_waypoint(manifest) if kind_of(manifest) == "ServiceEntry" else None
    # A ServiceEntry may be bound to a waypoint through its Namespace's label, which a resource rule
    # cannot see: its message speaks of sidecars only and never claims exportTo scopes ambient clients.
    everywhere = (f"the object to every namespace's sidecars; bound to the waypoint {waypoint}, it is not scoped "
                  f"by exportTo for ambient clients: {AMBIENT_IGNORES_EXPORT_TO}" if waypoint else
                  SERVICE_ENTRY_EVERYWHERE if kind_of(manifest) == "ServiceEntry" else
                  "the object to every namespace")
    raw = spec(manifest).get("exportTo")
    stars = [(i, entry) for i, entry in strings(raw) if entry == "*"]
    for i, entry in stars:
        yield Finding(f"spec.exportTo[{i}]", entry, f"'*' exports {everywhere}",
                      FIX_ORIGINATING if originating else FIX_STAR)
    if not stars:
        what = ("unset exportTo" if raw is None or raw == [] else
                "an exportTo without namespace names (read as unset)")
        yield Finding("spec.exportTo", raw, f"{what} exports {everywhere}",
                      FIX_ORIGINATING if originating else FIX)


RULE = ResourceRule(
    name="export-to-scoped",
    description="ServiceEntries and egress VirtualServices/DestinationRules set exportTo without '*'.",
    severity="medium",
    enforcement="mandatory",
    check=check,
)
"""No remediation: no exportTo value is certain from the object alone (``remediations`` says why)."""
