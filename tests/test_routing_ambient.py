"""routing_ambient: the ambient paths (ztunnel -> waypoint -> host), whole, per small stack; and the
ambient branches of the resource rules (export-to-scoped, audited-hosts-require-simple).

Each row is one fact of istiod's binding (pilot/pkg/serviceregistry/ambient/waypoints.go) or of the
waypoint's clusters (pilot/pkg/networking/core/cluster_waypoint.go buildWaypointInboundVIP).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pulumi_istio_egress.findings import Manifest
from pulumi_istio_egress.policies import audited_hosts, export_scope, waypoint_binding
from pulumi_istio_egress.policies.routing import Break, Path
from pulumi_istio_egress.policies.routing_ambient import (
    BINDING_BREAKS,
    WILDCARD_TLS_FLAG,
    ambient_service_entries,
    waypoint_paths,
)
from pulumi_istio_egress.policies.waypoints import AMBIENT_IGNORES_EXPORT_TO

GATEWAY_API = "gateway.networking.k8s.io/v1"


def waypoint(name: str = "waypoint", namespace: str = "istio-egress", labels: dict[str, str] | None = None,
             allowed: dict[str, Any] | None = None) -> Manifest:
    listener: dict[str, Any] = {"name": "mesh", "port": 15008, "protocol": "HBONE"}
    if allowed is not None:
        listener["allowedRoutes"] = {"namespaces": allowed}
    return {"apiVersion": GATEWAY_API, "kind": "Gateway",
            "metadata": {"name": name, "namespace": namespace, "labels": labels if labels is not None else {}},
            "spec": {"gatewayClassName": "istio-waypoint", "listeners": [listener]}}


def entry(namespace: str = "istio-egress", labels: dict[str, str] | None = None, ports: list[dict[str, Any]] | None
          = None, hosts: tuple[str, ...] = ("api.example.com",), resolution: str = "DNS") -> Manifest:
    return {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "api", "namespace": namespace,
                         "labels": {"istio.io/use-waypoint": "waypoint"} if labels is None else labels},
            "spec": {"hosts": list(hosts), "resolution": resolution,
                     "ports": ports or [{"number": 80, "name": "http", "protocol": "HTTP", "targetPort": 443}]}}


def gateway_class(serves: str) -> Manifest:
    return {"apiVersion": GATEWAY_API, "kind": "GatewayClass",
            "metadata": {"name": "istio-waypoint", "labels": {"istio.io/waypoint-for": serves}}}


def namespace(name: str, **labels: str) -> Manifest:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


ORIGINATE: Manifest = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
                       "metadata": {"name": "api-tls", "namespace": "istio-egress"},
                       "spec": {"host": "api.example.com", "exportTo": ["."],
                                "trafficPolicy": {"tls": {"mode": "SIMPLE"}}}}
TLS_PORT = [{"number": 443, "name": "tls", "protocol": "TLS"}]
ACROSS = {"istio.io/use-waypoint": "waypoint", "istio.io/use-waypoint-namespace": "istio-egress"}


def path(port: int = 80, app: str = "http", target: int | None = 443, breaks: tuple[Break, ...] = (),
         entry_ref: str = "istio-egress/api", origination: str | None = None, host: str = "api.example.com") -> Path:
    return Path(host=host, port=port, entry=entry_ref, flavour="waypoint", via="istio-egress/waypoint", app=app,
                passthrough=app == "tls", origination=origination, target_port=target, breaks=breaks)


SELECTOR = {"from": "Selector", "selector": {"matchLabels": {"egress": "yes"}}}
CASES: list[tuple[str, list[Manifest], list[Path]]] = [
    ("HTTP port, origination at the waypoint", [waypoint(), entry(), ORIGINATE], [path(origination="SIMPLE")]),
    ("HTTP port, no DestinationRule: plain HTTP to 443", [waypoint(), entry()], [path()]),
    # istiod looks the DestinationRule up from the waypoint's namespace: one exported nowhere near it is not read.
    ("origination rule in another namespace, exported to '.'", [
        waypoint(), entry(), {**ORIGINATE, "metadata": {"name": "api-tls", "namespace": "apps"}}], [path()]),
    ("TLS port: passed through by SNI", [waypoint(), entry(ports=TLS_PORT)], [path(443, "tls", 443)]),
    ("namespace label inherited", [namespace("istio-egress", **{"istio.io/use-waypoint": "waypoint"}), waypoint(),
                                   entry(labels={})], [path()]),
    ("none opts out of the namespace's waypoint", [
        namespace("istio-egress", **{"istio.io/use-waypoint": "waypoint"}), waypoint(),
        entry(labels={"istio.io/use-waypoint": "none"})], []),
    ("waypoint missing", [entry()], [path(breaks=(Break("no-waypoint", detail="no Gateway istio-egress/waypoint in "
                                                                              "the stack"),))]),
    ("workload-only waypoint", [waypoint(labels={"istio.io/waypoint-for": "workload"}), entry()],
     [path(breaks=(Break("waypoint-not-for-services", detail="istio.io/waypoint-for: workload"),))]),
    ("GatewayClass says workload, the Gateway says nothing", [
        gateway_class("workload"), waypoint(), entry()],
     [path(breaks=(Break("waypoint-not-for-services", detail="istio.io/waypoint-for: workload"),))]),
    ("the Gateway's own label wins over its class", [
        gateway_class("none"), waypoint(labels={"istio.io/waypoint-for": "all"}), entry()], [path()]),
    ("across namespaces, Same", [waypoint(), entry("team-a", ACROSS)], [path(entry_ref="team-a/api", breaks=(Break(
        "waypoint-refuses-namespace", detail="spec.listeners[0].allowedRoutes.namespaces.from: Same"),))]),
    ("across namespaces, All", [waypoint(allowed={"from": "All"}), entry("team-a", ACROSS)],
     [path(entry_ref="team-a/api")]),
    ("across namespaces, Selector matching the Namespace", [
        waypoint(allowed=SELECTOR), namespace("team-a", egress="yes"), entry("team-a", ACROSS)],
     [path(entry_ref="team-a/api")]),
    ("across namespaces, Selector not matching", [
        waypoint(allowed=SELECTOR), namespace("team-a", egress="no"), entry("team-a", ACROSS)],
     [path(entry_ref="team-a/api", breaks=(Break("waypoint-refuses-namespace", detail=(
         "spec.listeners[0].allowedRoutes.namespaces.from: Selector {egress: yes}")),))]),
    # Without the Namespace the selector cannot be judged: no break claimed.
    ("across namespaces, Selector, Namespace not in the stack", [waypoint(allowed=SELECTOR), entry("team-a", ACROSS)],
     [path(entry_ref="team-a/api")]),
    ("DYNAMIC_DNS wildcard, HTTP and TLS and HTTP2 ports", [waypoint(), entry(
        hosts=("*.example.com",), resolution="DYNAMIC_DNS", ports=[
            {"number": 80, "name": "http", "protocol": "HTTP"}, *TLS_PORT,
            {"number": 8080, "name": "h2", "protocol": "HTTP2"}])],
     [path(host="*.example.com", target=80),
      path(443, "tls", 443, host="*.example.com", breaks=(Break("waypoint-drops-port", port=443, index=1, detail=(
          f"the waypoint builds no cluster for a TLS port of a DYNAMIC_DNS ServiceEntry unless istiod runs with "
          f"{WILDCARD_TLS_FLAG}=true (Istio 1.29+, off by default: such TLS is routed by SNI alone, which a client "
          "can spoof)")),)),
      path(8080, "http", 8080, host="*.example.com", breaks=(Break("waypoint-drops-port", port=8080, index=2, detail=(
          "the waypoint builds clusters for a DYNAMIC_DNS ServiceEntry only on HTTP and TLS ports, not HTTP2")),))]),
    ("MESH_INTERNAL is not egress", [waypoint(), {**entry(), "spec": {**entry()["spec"], "location": "MESH_INTERNAL"}}],
     []),
]


@pytest.mark.parametrize(("stack", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_ambient_paths(stack: list[Manifest], expected: list[Path]) -> None:
    assert waypoint_paths(stack) == expected


def test_external_waypoints_are_present() -> None:
    assert waypoint_paths([entry()], external=["istio-egress/waypoint"]) == [path()]


def test_ambient_service_entries() -> None:
    stack = [waypoint(), entry(), {**entry(labels={}), "metadata": {"name": "plain", "namespace": "apps"}}]
    assert ambient_service_entries(stack) == {("istio-egress", "api")}
    assert ambient_service_entries(None) == set()


# --- the resource rules' ambient branches ---------------------------------------------------------

def findings(rule: Any, manifest: Manifest, config: dict[str, Any]) -> list[tuple[str, Any, str, str]]:
    return [(f.path, f.value, f.message, f.fix) for f in rule.RULE.check(manifest, config)]


AUDITED = {"auditedHosts": ["api.example.com"]}
PASSED_THROUGH = ("spec.ports[0].protocol", "TLS",
                  "the waypoint istio-egress/waypoint passes TLS traffic for audited host api.example.com through "
                  "uninspected: it proxies it without terminating TLS",
                  "serve the host on an HTTP port with targetPort set to its TLS port and originate TLS at the "
                  "waypoint with a DestinationRule (EgressRoute dataplane AMBIENT, tls_mode SIMPLE)")
RESOURCE_CASES: list[tuple[str, Any, Manifest, dict[str, Any], list[tuple[str, Any, str, str]]]] = [
    ("audited host, TLS port at the waypoint", audited_hosts, entry(ports=TLS_PORT), AUDITED, [PASSED_THROUGH]),
    ("audited host, HTTP port at the waypoint", audited_hosts, entry(), AUDITED, []),
    # protocol.Instance.IsHTTP: HTTP_PROXY and gRPC-Web are HTTP too, in any case (protocol.Parse).
    ("audited host, gRPC-Web port at the waypoint", audited_hosts,
     entry(ports=[{"number": 80, "name": "grpc-web", "protocol": "gRPC-Web"}]), AUDITED, []),
    ("audited host, HTTP_PROXY port at the waypoint", audited_hosts,
     entry(ports=[{"number": 80, "name": "proxy", "protocol": "HTTP_PROXY"}]), AUDITED, []),
    ("audited host, TLS port, no waypoint label (sidecar: the Gateway is judged)", audited_hosts,
     entry(labels={}, ports=TLS_PORT), AUDITED, []),
    ("host not audited", audited_hosts, entry(ports=TLS_PORT), {"auditedHosts": ["other.example"]}, []),
    ("waypoint-bound entry, exportTo unset", export_scope, entry(), {}, [(
        "spec.exportTo", None,
        "unset exportTo exports the object to every namespace's sidecars; bound to the waypoint istio-egress/waypoint, "
        f"it is not scoped by exportTo for ambient clients: {AMBIENT_IGNORES_EXPORT_TO}", export_scope.FIX)]),
    ("waypoint-bound entry, exportTo '*'", export_scope,
     {**entry(), "spec": {**entry()["spec"], "exportTo": ["*"]}}, {}, [(
         "spec.exportTo[0]", "*",
         "'*' exports the object to every namespace's sidecars; bound to the waypoint istio-egress/waypoint, it is "
         f"not scoped by exportTo for ambient clients: {AMBIENT_IGNORES_EXPORT_TO}", export_scope.FIX_STAR)]),
    ("entry opted out with none", export_scope, entry(labels={"istio.io/use-waypoint": "none"}), {}, [
        ("spec.exportTo", None, "unset exportTo exports the object to every namespace's sidecars (ztunnel and "
         "waypoints ignore exportTo: it never scopes ambient clients)", export_scope.FIX)]),
]


@pytest.mark.parametrize(("rule", "manifest", "config", "expected"), [c[1:] for c in RESOURCE_CASES],
                         ids=[c[0] for c in RESOURCE_CASES])
def test_resource_rules_know_the_waypoint(rule: Any, manifest: Manifest, config: dict[str, Any],
                                          expected: list[tuple[str, Any, str, str]]) -> None:
    assert findings(rule, copy.deepcopy(manifest), config) == expected


# --- the rule and the model agree -------------------------------------------------------------------

REFUSED_FIRST = [waypoint(labels={"istio.io/waypoint-for": "workload"}), entry("team-a", ACROSS)]


@pytest.mark.parametrize("stack", [*[c[1] for c in CASES], REFUSED_FIRST],
                         ids=[*[c[0] for c in CASES], "workload-only waypoint across namespaces"])
def test_waypoint_binding_reports_exactly_the_binding_breaks(stack: list[Manifest]) -> None:
    """waypoint-binding-resolves flags a ServiceEntry (on its label or its namespace) exactly when
    routing_ambient breaks its binding, and for the same reason (istiod's order: the waypoint, the
    namespace's attachment, then the traffic type)."""
    reasons = {"no-waypoint": "which is no Gateway of this stack", "waypoint-refuses-namespace": "admit",
               "waypoint-not-for-services": "takes no service traffic"}
    flagged = {f"{m['metadata']['namespace']}/{m['metadata']['name']}": f.message
               for m, f in waypoint_binding.check(stack, {}) if m.get("kind") == "ServiceEntry"}
    broken = {p.entry: b.kind for p in waypoint_paths(stack) for b in p.breaks if b.kind in BINDING_BREAKS}
    assert sorted(flagged) == sorted(broken)
    assert [ref for ref, kind in broken.items() if reasons[kind] not in flagged[ref]] == []


def test_refused_before_the_traffic_type() -> None:
    assert [b.kind for p in waypoint_paths(REFUSED_FIRST) for b in p.breaks] == ["waypoint-refuses-namespace"]
