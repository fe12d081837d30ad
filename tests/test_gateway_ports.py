"""egress-references-resolve's port findings (policies/gateway_ports.py) on small stacks: what is a
mismatch by istiod (gateway.go buildGatewayListeners, route/route.go translateRoute) and what is not."""

from __future__ import annotations

from typing import Any

import pytest

from pulumi_istio_egress.findings import object_ref
from pulumi_istio_egress.policies import egress_references
from pulumi_istio_egress.policies.routing import sidecar_paths
from pulumi_istio_egress.policies.stack import Stack

EGW = "istio-egressgateway.istio-system.svc.cluster.local"
HOST = "api.example.com"
VS = "VirtualService istio-system/egress"


def obj(kind: str, name: str, spec: dict[str, Any], namespace: str = "istio-system") -> dict[str, Any]:
    return {"apiVersion": "networking.istio.io/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


def stack(*, mesh_port: int | None = 443, gateway_ports: tuple[int | None, ...] = (443,),
          servers: tuple[int, ...] = (443,), gateway_host: str = HOST) -> list[dict[str, Any]]:
    """A PASSTHROUGH route for HOST: mesh -> EGW:mesh_port, gateway leg matching gateway_ports (one
    match each) on to the host; the Gateway has a TLS server for gateway_host on each of servers."""
    destination: dict[str, Any] = {"host": EGW, "subset": "egress"}
    if mesh_port is not None:
        destination["port"] = {"number": mesh_port}
    gateway_matches = [{"gateways": ["egress"], "sniHosts": [HOST], **({"port": p} if p is not None else {})}
                       for p in gateway_ports]
    return [
        obj("ServiceEntry", "egress", {"hosts": [HOST], "location": "MESH_EXTERNAL", "resolution": "DNS",
                                       "exportTo": [".", "payments"],
                                       "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}),
        obj("Gateway", "egress", {"selector": {"istio": "egressgateway"}, "servers": [
            {"port": {"number": n, "name": f"tls-{n}", "protocol": "TLS"}, "hosts": [gateway_host],
             "tls": {"mode": "PASSTHROUGH"}} for n in servers]}),
        obj("DestinationRule", "egress", {"host": EGW, "exportTo": ["payments"], "subsets": [{"name": "egress"}]},
            "payments"),
        obj("VirtualService", "egress", {
            "hosts": [HOST], "gateways": ["mesh", "egress"], "exportTo": [".", "payments"],
            "tls": [{"match": [{"gateways": ["mesh"], "port": 443, "sniHosts": [HOST]}],
                     "route": [{"destination": destination}]},
                    {"match": gateway_matches, "route": [{"destination": {"host": HOST, "port": {"number": 443}}}]}]}),
    ]


def mesh_leg(port: int, on: str, fix: str, servers: str = "server for it is") -> tuple[str, str, Any, str, str]:
    return (VS, "spec.tls[0].route[0].destination.port.number", port,
            f"port {port} of {EGW} is not a port Gateway istio-system/egress serves {HOST} on (its {servers} on {on}), "
            "so the gateway has no listener or server for this route's traffic", f"send the mesh leg to {fix}")


def gateway_match(index: int, port: int, on: str, fix_on: str) -> tuple[str, str, Any, str, str]:
    return (VS, f"spec.tls[1].match[{index}].port", port,
            f"this route is bound to Gateway istio-system/egress on port {port}, but the Gateway serves {HOST} on {on} "
            "only: a gateway's routes match its server's port, so this one never matches (404 NR)",
            f"match port {fix_on}, the port of the Gateway's server for {HOST}, or leave the port out of the match")


CASES = [
    ("ports agree", stack(), []),
    ("mesh leg without a port: Istio takes the Service's", stack(mesh_port=None), []),
    ("gateway match without a port takes the server's", stack(gateway_ports=(None,)), []),
    ("mesh leg to a port with no server for the host", stack(mesh_port=8443),
     [mesh_leg(8443, "443", f"port 443, the port of the Gateway's server for {HOST}")]),
    ("two servers: the mesh leg must reach one", stack(mesh_port=8443, servers=(443, 9443)),
     [mesh_leg(8443, "443, 9443", f"one of ports 443, 9443, the ports of the Gateway's servers for {HOST}",
               "servers for it are")]),
    ("gateway match on another port", stack(gateway_ports=(8443,)), [gateway_match(0, 8443, "443", "443")]),
    ("a dead match beside a live one: the rule still applies", stack(gateway_ports=(8443, 443)), []),
    ("every match dead: each reported", stack(gateway_ports=(8443, 9443)),
     [gateway_match(0, 8443, "443", "443"), gateway_match(1, 9443, "443", "443")]),
    ("no server for the host at all: egress-via-gateway's no-gateway, not a port",
     stack(mesh_port=8443, gateway_host="other.example.com"), [
         (VS, "spec.tls[1].match[0].sniHosts[0]", HOST,
          f"SNI host {HOST} is not served by Gateway istio-system/egress (its servers take other.example.com), so the "
          "gateway never matches this route",
          f"add {HOST} to a server's hosts of Gateway istio-system/egress, or match the SNI host it serves")]),
]


@pytest.mark.parametrize(("manifests", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_port_findings(manifests: list[dict[str, Any]], expected: list[tuple[str, str, Any, str, str]]) -> None:
    found = egress_references.check(manifests, {})
    assert [(object_ref(m), f.path, f.value, f.message, f.fix) for m, f in found] == expected


PATHS = [(stack(), True), (stack(gateway_ports=(8443, 443)), True), (stack(mesh_port=8443), False),
         (stack(gateway_ports=(8443,)), False)]


@pytest.mark.parametrize(("manifests", "works"), PATHS, ids=["agree", "one-live-match", "mesh-leg", "gateway-match"])
def test_the_path_breaks_where_the_rule_reports(manifests: list[dict[str, Any]], works: bool) -> None:
    assert [p.works for p in sidecar_paths(Stack(manifests), manifests)] == [works]


def test_an_ingress_routes_mesh_leg_is_not_judged() -> None:
    # A VirtualService bound to mesh and an ingress Gateway, routing to an app: no gateway leg sends
    # the host on to itself and no ServiceEntry makes it external, so it is no egress route.
    manifests = [
        obj("Gateway", "ingress", {"selector": {"istio": "ingressgateway"}, "servers": [
            {"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["shop.example.com"]}]}),
        obj("VirtualService", "shop", {"hosts": ["shop.example.com"], "gateways": ["mesh", "ingress"], "http": [
            {"route": [{"destination": {"host": "web.shop.svc.cluster.local", "port": {"number": 9080}}}]}]}),
    ]
    assert egress_references.check(manifests, {}) == []
