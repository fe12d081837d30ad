"""Reading Istio objects as plain, possibly malformed dicts, without ever raising.

Rules see whatever a stack holds: objects from our component, hand-written CustomResources or
YAML/Helm. Every accessor here tolerates missing keys and wrong types, so a rule only judges
values of the shape it expects and never crashes on the rest.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from ..findings import Manifest
from ..jsontypes import whole_number
from ..names import MAX_HOST
from ..names import MESH as MESH  # re-exported: the rule modules read it from here

HTTP_PROTOCOLS = ("HTTP", "HTTP2", "HTTP_PROXY", "GRPC", "GRPC-WEB")
"""Port protocols istiod treats as HTTP (``protocol.Instance.IsHTTP``, pkg/config/protocol), upper-cased:
``protocol.Parse`` ignores case, so callers compare ``protocol.upper()``."""
PASSING_THROUGH = ("PASSTHROUGH", "AUTO_PASSTHROUGH")
"""Gateway server TLS modes that forward the app's TLS by SNI, uninterpreted."""
ORIGINATING = ("SIMPLE", "MUTUAL")
"""DestinationRule TLS modes that originate TLS."""

NETWORKING_VERSIONS = ("networking.istio.io/v1", "networking.istio.io/v1beta1", "networking.istio.io/v1alpha3")
SECURITY_VERSIONS = ("security.istio.io/v1", "security.istio.io/v1beta1")
EGRESS_KINDS = ("ServiceEntry", "Gateway", "DestinationRule", "VirtualService")
port_number = whole_number  # a port number from an int or an integral float (as numbers arrive over gRPC)


def kind_of(manifest: Manifest) -> str | None:
    """The Istio kind of a manifest (any served version), else None."""
    if not isinstance(manifest, dict):
        return None
    api, kind = manifest.get("apiVersion"), manifest.get("kind")
    if api in NETWORKING_VERSIONS or api in SECURITY_VERSIONS:
        return kind if isinstance(kind, str) else None
    return None


def spec(manifest: Manifest) -> dict[str, Any]:
    value = manifest.get("spec") if isinstance(manifest, dict) else None
    return value if isinstance(value, dict) else {}


def meta(manifest: Manifest, key: str) -> str:
    metadata = manifest.get("metadata") if isinstance(manifest, dict) else None
    value = metadata.get(key) if isinstance(metadata, dict) else None
    if key == "namespace" and not value:
        return "default"
    return value if isinstance(value, str) else ""


def dicts(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index, item) for the dict items of a list; anything else yields nothing."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, dict):
                yield index, item


def strings(value: Any) -> Iterator[tuple[int, str]]:
    """(index, item) for the string items of a list."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            if isinstance(item, str):
                yield index, item


def sub(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` or None when any step is missing or not a dict."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def host_matches(pattern: str, host: str) -> bool:
    """Istio host matching: ``*.example.com`` covers ``a.example.com`` and ``a.b.example.com``."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern == "*":
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) or host == pattern
    return fnmatch.fnmatchcase(host, pattern) if "*" in pattern else host == pattern


def is_external_service_entry(manifest: Manifest) -> bool:
    """A ServiceEntry for hosts outside the mesh (MESH_EXTERNAL is the default location)."""
    return kind_of(manifest) == "ServiceEntry" and spec(manifest).get("location", "MESH_EXTERNAL") == "MESH_EXTERNAL"


def gateway_ref(manifest: Manifest, name: str) -> str:
    """A VirtualService's gateway reference as ``namespace/name`` (short names are in its namespace)."""
    return name if "/" in name or name == MESH else f"{meta(manifest, 'namespace')}/{name}"


def destination_rule_tls(manifest: Manifest) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every ``tls`` setting of a DestinationRule with its path: top, port, subset and subset-port level."""
    body = spec(manifest)
    policies: list[tuple[str, Any]] = [("spec.trafficPolicy", body.get("trafficPolicy"))]
    for i, subset in dicts(body.get("subsets")):
        policies.append((f"spec.subsets[{i}].trafficPolicy", subset.get("trafficPolicy")))
    for path, policy in policies:
        if not isinstance(policy, dict):
            continue
        if isinstance(policy.get("tls"), dict):
            yield f"{path}.tls", policy["tls"]
        for j, setting in dicts(policy.get("portLevelSettings")):
            if isinstance(setting.get("tls"), dict):
                yield f"{path}.portLevelSettings[{j}].tls", setting["tls"]


def gateway_server_hosts(server: dict[str, Any]) -> Iterator[tuple[int, str]]:
    """A Gateway server's hosts without their optional ``namespace/`` prefix."""
    for index, host in strings(server.get("hosts")):
        yield index, host.split("/", 1)[-1]


def string_list(config: Any, key: str) -> list[str]:
    """A list-of-strings config value; anything else reads as empty."""
    value = config.get(key) if isinstance(config, dict) or hasattr(config, "get") else None
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


# --- Stack-model helpers (stack, routing and the stack rules) ---


def networking_kind(manifest: Manifest) -> str | None:
    """The kind of a networking.istio.io object (any served version), else None."""
    api = manifest.get("apiVersion") if isinstance(manifest, dict) else None
    return kind_of(manifest) if api in NETWORKING_VERSIONS else None


def export_to(manifest: Manifest) -> list[str]:
    """The string entries of ``spec.exportTo`` as written; empty when unset or malformed."""
    return [entry for _, entry in strings(spec(manifest).get("exportTo"))]


def exported_to(manifest: Manifest) -> frozenset[str]:
    """The namespaces that see an object: ``{"*"}`` for all (exportTo unset, empty or with ``*``),
    ``.`` read as the object's own namespace, nothing for ``~``."""
    entries = export_to(manifest)
    if not entries or "*" in entries:
        return frozenset({"*"})
    if "~" in entries:
        return frozenset()
    own = meta(manifest, "namespace")
    return frozenset(own if entry == "." else entry for entry in entries)


def is_egress(manifest: Manifest) -> bool:
    """Whether ``export-to-scoped`` recognises ``manifest`` as an egress object on its own: every
    ServiceEntry, a VirtualService bound to ``mesh`` and a Gateway, a DestinationRule for an
    ``*egressgateway*`` host or originating TLS (SIMPLE or MUTUAL)."""
    kind, body = kind_of(manifest), spec(manifest)
    if kind == "ServiceEntry":
        return True
    if kind == "VirtualService":
        gateways = [g for _, g in strings(body.get("gateways"))]
        return MESH in gateways and any(g != MESH for g in gateways)
    if kind == "DestinationRule":
        return for_egress_gateway(manifest) or any(
            tls.get("mode") in ORIGINATING for _, tls in destination_rule_tls(manifest))
    return False


def for_egress_gateway(manifest: Manifest) -> bool:
    host = spec(manifest).get("host")
    return isinstance(host, str) and "egressgateway" in host


def reports_everywhere(manifest: Manifest) -> bool:
    """Whether ``export-to-scoped`` reports ``manifest`` as visible in every namespace (the rule owns
    that fact; ``egress-visibility`` asks here so the fact is reported once). A DestinationRule with
    a ``workloadSelector`` is not: istiod applies it only in its own namespace whatever exportTo
    says (PushContext.setDestinationRules, push_context.go; SidecarScope.DestinationRule picks
    selector rules by the proxy's labels, sidecar.go)."""
    if kind_of(manifest) == "DestinationRule" and spec(manifest).get("workloadSelector") is not None:
        return False
    return is_egress(manifest) and "*" in exported_to(manifest)


def visible_in(scope: frozenset[str], namespace: str) -> bool:
    """Whether an ``exported_to`` scope includes ``namespace``."""
    return "*" in scope or namespace in scope


def host_key(host: str, namespace: str | None = None) -> str:
    """A host as Istio compares it: lower case, no trailing dot; with ``namespace``, a short name
    becomes that namespace's Service FQDN (how VirtualService and DestinationRule hosts resolve)."""
    host = host.lower().rstrip(".")
    if namespace is not None and host and "." not in host and host != "*":
        return f"{host}.{namespace}.svc.cluster.local"
    return host


def covering_patterns(host: str) -> list[str]:
    """The host patterns that cover ``host``, most specific first: the host, ``*.`` + each parent
    domain, ``*``. Index objects by pattern, then look a host up in O(labels), not O(objects)."""
    patterns = [host]
    # Istio refuses hosts past 255 characters (validation.CheckDNS1123Preconditions), so no
    # pattern can name a longer one's parents: building each suffix would be quadratic in it.
    if len(host) <= MAX_HOST:
        labels = host.split(".")
        patterns += [p for p in ("*." + ".".join(labels[i:]) for i in range(1, len(labels))) if p != host]
    if host != "*":
        patterns.append("*")
    return patterns


def service_namespace(host: str) -> str | None:
    """The namespace of a Kubernetes Service host ``<name>.<namespace>.svc.<domain>``, else None."""
    labels = host.split(".")
    if len(labels) >= 4 and labels[2] == "svc" and labels[0] and labels[1] and "*" not in labels[0]:
        return labels[1]
    return None


def bound_gateways(manifest: Manifest) -> list[str]:
    """A VirtualService's ``gateways`` as ``namespace/name`` or ``mesh``; unset or ``[]`` binds
    ``mesh`` only, a malformed value binds nothing."""
    value = spec(manifest).get("gateways")
    if value is None or value == []:
        return [MESH]
    return [gateway_ref(manifest, name) for _, name in strings(value)]


GATEWAY_API_GROUP = "gateway.networking.k8s.io"
GATEWAY_API_ROUTES = ("HTTPRoute", "TLSRoute", "TCPRoute", "GRPCRoute")
WAYPOINT_LABEL = "istio.io/use-waypoint"


def unmodelled_service_entries(manifests: Any) -> set[tuple[str, str]]:
    """(namespace, name) of ServiceEntries whose egress runs in a flavour the classic stack model
    does not read, so the classic rules do not judge them (never called a bypass): ambient (the entry
    carries ``istio.io/use-waypoint`` other than ``none``, or carries none and its Namespace in the
    stack does, as ``waypoints.Waypoints.binding`` reads it: a waypoint, not a sidecar route, carries
    its traffic; the waypoint rules judge it) and the Gateway API (a ``gateway.networking.k8s.io``
    route names the entry in ``parentRefs``, the mesh leg of Istio's Gateway API egress task, or an
    exact listener hostname of a Gateway API Gateway is its host and no VirtualService names it: the
    gateway's own copy, or an entry whose mesh leg names another parent; ``routing_gateway_api``
    judges those: :func:`gateway_api_service_entries`)."""
    return waypoint_service_entries(manifests) | gateway_api_service_entries(manifests)


def gateway_api_service_entries(manifests: Any) -> set[tuple[str, str]]:
    """(namespace, name) of the ServiceEntries the Gateway API flavour carries (see
    :func:`unmodelled_service_entries`)."""
    found: set[tuple[str, str]] = set()
    items = [m for m in manifests if isinstance(m, dict)] if isinstance(manifests, (list, tuple)) else []
    listened: set[str] = set()
    classic: set[str] = set()  # hosts of VirtualServices: the classic flavour routes those
    for m in items:
        api, kind = m.get("apiVersion"), m.get("kind")
        if kind_of(m) == "VirtualService":
            classic |= {host_key(h) for _, h in strings(spec(m).get("hosts"))}
        if not (isinstance(api, str) and api.startswith(GATEWAY_API_GROUP + "/")):
            continue
        if kind in GATEWAY_API_ROUTES:
            for _, ref in dicts(spec(m).get("parentRefs")):
                if ref.get("kind") == "ServiceEntry" and isinstance(ref.get("name"), str):
                    namespace = ref.get("namespace")
                    found.add((namespace if isinstance(namespace, str) and namespace else meta(m, "namespace"),
                               ref["name"]))
        elif kind == "Gateway":
            # Exact hostnames only: a wildcard listener is more likely an ingress gateway's.
            listened |= {host_key(h) for _, lst in dicts(spec(m).get("listeners"))
                         if isinstance(h := lst.get("hostname"), str) and h and "*" not in h}
    for m in items:
        hosts = {host_key(h) for _, h in strings(spec(m).get("hosts"))} if kind_of(m) == "ServiceEntry" else set()
        if hosts & listened and not hosts & classic:
            found.add((meta(m, "namespace"), meta(m, "name")))
    return found


def waypoint_service_entries(manifests: Any) -> set[tuple[str, str]]:
    """(namespace, name) of the ServiceEntries a waypoint carries (ambient): the entry's own
    ``istio.io/use-waypoint`` other than ``none``, or none of its own and its Namespace's in the stack."""
    found: set[tuple[str, str]] = set()
    items = [m for m in manifests if isinstance(m, dict)] if isinstance(manifests, (list, tuple)) else []
    # Without a label of its own, an entry takes its Namespace's (fetchWaypointForTarget).
    enrolled = {meta(m, "name") for m in items if (m.get("apiVersion"), m.get("kind")) == ("v1", "Namespace")
                and _waypoint_label(m) not in (None, "none")}
    for m in items:
        if kind_of(m) == "ServiceEntry":
            # "none" opts the entry out of waypoints (GetUseWaypoint, pilot/pkg/serviceregistry/ambient).
            own = _waypoint_label(m)
            if own not in (None, "none") or (own is None and meta(m, "namespace") in enrolled):
                found.add((meta(m, "namespace"), meta(m, "name")))
    return found


def _waypoint_label(manifest: Manifest) -> Any:
    labels = sub(manifest, "metadata", "labels")
    return labels.get(WAYPOINT_LABEL) if isinstance(labels, dict) else None
