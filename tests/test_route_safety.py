"""What every generated route guarantees in a real mesh, read the way istiod reads it.

Each test names the istiod function whose behaviour it encodes. They run over the arguments of
every route fixture plus the mixes below, so a new pattern is covered by adding its fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress import parse_route, route_manifests
from pulumi_istio_egress.findings import Manifest

ROUTES = sorted((Path(__file__).parent / "fixtures" / "routes").glob("*.yaml"))
ARGS = {p.stem: dict(yaml.safe_load(p.read_text()))["args"] for p in ROUTES}


def made(name: str) -> list[Manifest]:
    return route_manifests(parse_route(ARGS[name]))


def originating_tls(manifests: list[Manifest]) -> list[tuple[str, str, Any, Any]]:
    """(namespace/name, mode, sni, subjectAltNames) of every TLS setting that originates TLS."""
    found = []
    for m in manifests:
        if m["kind"] != "DestinationRule":
            continue
        policies = [m["spec"].get("trafficPolicy", {})]
        policies += [s.get("trafficPolicy", {}) for s in m["spec"].get("subsets", [])]
        settings = [p.get("tls", {}) for p in policies] + [
            pls.get("tls", {}) for p in policies for pls in p.get("portLevelSettings", [])]
        ref = f"{m['metadata']['namespace']}/{m['metadata']['name']}"
        found += [(ref, t["mode"], t.get("sni"), t.get("subjectAltNames"))
                  for t in settings if t.get("mode") in ("SIMPLE", "MUTUAL")]
    return found


@pytest.mark.parametrize(("route", "expected"), [
    ("simple-origination", [("istio-system/egress-api-github-com-origination", "SIMPLE", "api.github.com",
                             ["api.github.com"])]),
    ("simple-termination", [("istio-system/egress-hooks-slack-com-origination", "SIMPLE", "hooks.slack.com",
                             ["hooks.slack.com"])]),
    # An explicit `sni` is the name dialled, so it is the name checked.
    ("mutual", [("istio-system/egress-api-bank-example-origination", "MUTUAL", "mtls.bank.example",
                 ["mtls.bank.example"])]),
    ("custom-gateway", [("egress/egress-partner-example-org-origination", "SIMPLE", "partner.example.org",
                         ["partner.example.org"])]),
    ("long-host", []),
    ("passthrough", []),
])
def test_setAutoSniAndAutoSanValidation_every_originating_tls_checks_the_host_name(
        route: str, expected: list[tuple[str, str, Any, Any]]) -> None:
    # cluster_tls.go: with `sni` set, Istio adds no SAN check of its own, so the names must be explicit.
    assert originating_tls(made(route)) == expected


def test_explicit_subject_alt_names_are_kept() -> None:
    args = dict(ARGS["simple-origination"], subject_alt_names=["api.github.com", "github.com"])
    assert originating_tls(route_manifests(parse_route(args))) == [
        ("istio-system/egress-api-github-com-origination", "SIMPLE", "api.github.com",
         ["api.github.com", "github.com"])]


def visible(manifest: Manifest, namespace: str) -> bool:
    """exportTo as istiod reads it: unset or `*` is everywhere, `.` the object's own namespace."""
    export = manifest["spec"].get("exportTo") or ["*"]
    own = manifest["metadata"]["namespace"]
    return "*" in export or namespace in [own if e == "." else e for e in export]


def unrouted_ports(manifests: list[Manifest], namespace: str) -> list[tuple[str, int]]:
    """(host, port) a sidecar in ``namespace`` sees in a ServiceEntry but no mesh-bound route of a
    visible VirtualService matches: for a TLS port that is a direct SNI chain to the host
    (buildSidecarOutboundTLSFilterChainOpts, pilot/pkg/networking/core/tls.go), for HTTP the default route."""
    seen = [(h, p["number"]) for m in manifests if m["kind"] == "ServiceEntry" and visible(m, namespace)
            for h in m["spec"]["hosts"] for p in m["spec"]["ports"]]
    routed = set()
    for m in manifests:
        if m["kind"] != "VirtualService" or not visible(m, namespace):
            continue
        for kind in ("http", "tls", "tcp"):
            for rule in m["spec"].get(kind, []):
                for match in rule.get("match", []):
                    if "mesh" in match.get("gateways", m["spec"].get("gateways", ["mesh"])):
                        routed |= {(h, match["port"]) for h in m["spec"]["hosts"]}
    return sorted(set(seen) - routed)


MIX = [ARGS[name] for name in ("passthrough", "simple-origination", "simple-termination", "mutual")] + [
    dict(ARGS["simple-origination"], host="api.example.com", http_port=8080, port=8443, authorization_policy=True)]


@pytest.mark.parametrize(("routes", "namespaces"), [
    ([ARGS[name]], ARGS[name]["client_namespaces"]) for name in sorted(ARGS)
] + [(MIX, ["payments", "ci", "builds", "alerts"])], ids=[*sorted(ARGS), "every-pattern-on-one-gateway"])
def test_no_port_a_client_sees_leaves_without_the_gateway(routes: list[dict[str, Any]], namespaces: list[str]) -> None:
    manifests = [m for args in routes for m in route_manifests(parse_route(args))]
    assert {ns: unrouted_ports(manifests, ns) for ns in namespaces} == {ns: [] for ns in namespaces}


def test_the_gateway_still_sees_the_host_port_it_dials() -> None:
    manifests = made("simple-origination")
    assert [(m["metadata"]["namespace"], [p["number"] for p in m["spec"]["ports"]], m["spec"]["exportTo"])
            for m in manifests if m["kind"] == "ServiceEntry"] == [
        ("istio-system", [443], ["."]), ("ci", [80], ["."]), ("builds", [80], ["."])]


# Fields istiod can evaluate on a TCP filter chain; on a TLS/TCP chain a DENY rule's other fields are
# dropped, widening it (rule.checkError, pilot/pkg/security/authz/model/model.go).
TCP_SOURCE_FIELDS = {"principals", "notPrincipals", "namespaces", "notNamespaces", "ipBlocks", "notIpBlocks"}
TCP_WHEN_KEYS = {"connection.sni", "source.ip", "source.namespace", "source.principal", "destination.port"}


@pytest.mark.parametrize(("route", "expected"), [
    ("mutual", [("DENY", [{"from": [{"source": {"notPrincipals": [
        "cluster.local/ns/payments/sa/checkout", "cluster.local/ns/payments/sa/refunds"]}}],
        "when": [{"key": "connection.sni", "values": ["api.bank.example"]}]}])]),
    ("custom-gateway", [("DENY", [{"from": [{"source": {"notNamespaces": ["orders"]}}],
                                   "when": [{"key": "connection.sni", "values": ["partner.example.org"]}]}])]),
    ("simple-origination", []),
    ("passthrough", []),
])
def test_authorization_touches_only_its_own_route(route: str, expected: list[tuple[str, list[Any]]]) -> None:
    # A DENY never flips the gateway to deny-by-default the way an ALLOW does, so other routes on the
    # shared gateway keep working; and every field is one both filter chains evaluate.
    policies = [(m["spec"]["action"], m["spec"]["rules"]) for m in made(route) if m["kind"] == "AuthorizationPolicy"]
    assert policies == expected
    for _, rules in policies:
        for rule in rules:
            assert set(rule) <= {"from", "when"}
            assert all(set(f["source"]) <= TCP_SOURCE_FIELDS for f in rule["from"])
            assert all(w["key"] in TCP_WHEN_KEYS for w in rule["when"])


@pytest.mark.parametrize("route", sorted(ARGS))
def test_gateway_servers_bind_only_virtual_services_of_the_gateway_namespace(route: str) -> None:
    # A server host without `namespace/` takes VirtualServices from every namespace (Gateway.servers.hosts).
    args = ARGS[route]
    namespace = args.get("gateway_namespace", "istio-system")
    assert [h for m in made(route) if m["kind"] == "Gateway" for s in m["spec"]["servers"] for h in s["hosts"]] == [
        f"{namespace}/{args['host']}"]
