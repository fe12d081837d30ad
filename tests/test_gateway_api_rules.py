"""The pack on Gateway API egress routes (issue 14, the pack): ``policies/routing_gateway_api.py``.

1. Istio's documented Gateway API configs (tests/fixtures/istio-docs/gateway-api) get exactly the
   verdict of their ``verdict:`` line from egress-via-gateway, egress-references-resolve,
   egress-visibility and audited-hosts-require-simple: whole findings.
2. What the model does not read is said (the stack rules' not-applicable reason), never judged.
3. Our own api=GATEWAY_API output passes every one of them, per pattern, alone and beside classic
   routes on one shared gateway.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress import parse_route, route_manifests
from pulumi_istio_egress.findings import Manifest, object_ref
from pulumi_istio_egress.manifests_gateway_api import gateway_api_manifests
from pulumi_istio_egress.policies import audited_hosts, egress_references, egress_via_gateway, egress_visibility
from pulumi_istio_egress.policies.routing_gateway_api import gateway_api_paths

DOCS = Path(__file__).parent / "fixtures" / "istio-docs" / "gateway-api"
STACK_RULES = (egress_via_gateway, egress_references, egress_visibility)
AUDITED = ["edition.cnn.com", "my-nginx.mesh-external.svc.cluster.local"]
Row = tuple[str, str, str, Any, str, str]
"""(rule, object, path, value, message, fix)."""


def load(name: str) -> list[Manifest]:
    return [d for d in yaml.safe_load_all((DOCS / name).read_text()) if isinstance(d, dict)]


def judge(manifests: list[Manifest], audited: list[str] | None = None) -> list[Row]:
    """Every finding of the four rules, in rule order."""
    rows: list[Row] = []
    for module in STACK_RULES:
        rows += [(module.RULE.name, object_ref(m), f.path, f.value, f.message, f.fix)
                 for m, f in module.RULE.check(manifests, module.RULE.defaults())]
    config = {"auditedHosts": audited or []}
    rows += [(audited_hosts.RULE.name, object_ref(m), f.path, f.value, f.message, f.fix)
             for m in manifests for f in audited_hosts.RULE.check(m, config)]
    return rows


CNN = "ServiceEntry default/cnn"
TO_HOST = "so sidecars that see this port send it straight to the host"


def unrouted(index: int, port: int, why: str = "", kind: str = "TLSRoute") -> Row:
    """egress-via-gateway: a client-visible port no mesh route takes (istiod's default SNI chain,
    pilot/pkg/networking/core tls.go)."""
    return ("egress-via-gateway", CNN, f"spec.ports[{index}].number", port,
            f"no Gateway API route with ServiceEntry default/cnn as parent routes port {port} of edition.cnn.com to "
            f"the egress gateway{why}, {TO_HOST}",
            f"bind a {kind} (parentRefs: group networking.istio.io, kind ServiceEntry, name cnn) whose backendRef is "
            "the gateway's Service, or leave the port out of the ServiceEntry clients see")


PASSTHROUGH_AUDITED = (
    "audited-hosts-require-simple", "Gateway default/cnn-egress", "spec.listeners[0].tls.mode", "Passthrough",
    "the gateway passes TLS for audited host edition.cnn.com through uninspected (a TLS listener in Passthrough "
    "mode)",
    "let the gateway interpret TLS: EgressRoute tls_mode SIMPLE (an HTTPS listener with "
    "gateway.istio.io/tls-terminate-mode ISTIO_MUTUAL and an HTTPRoute), or terminate it")

# file -> (findings without audited hosts, extra findings with edition.cnn.com audited)
EXPECTED: dict[str, tuple[list[Row], list[Row]]] = {
    # pass (PASSTHROUGH: not interpreted)
    "tls-passthrough.yaml": ([], [PASSTHROUGH_AUDITED]),
    # bypass (port 443)
    "http-port-80.yaml": ([unrouted(1, 443)], []),
    # bypass (port 443); port 80 passes, interpreted at the gateway (nothing for an audited host)
    "tls-origination.yaml": ([unrouted(1, 443)], []),
    # pass, not-verified (no ServiceEntry: a classic mesh VirtualService and an HTTPRoute to a Service)
    "mtls-origination.yaml": ([], []),
    # broken (no gateway-leg route)
    "broken-missing-gateway-leg.yaml": ([
        ("egress-via-gateway", CNN, "spec.ports[0].number", 443,
         "no route bound to Gateway default/cnn-egress (listener tls) sends edition.cnn.com on to the host, so the "
         "gateway accepts the connection but has no route for it",
         "bind a TLSRoute to Gateway default/cnn-egress (sectionName tls) for edition.cnn.com whose backendRef is "
         "group networking.istio.io, kind Hostname, name edition.cnn.com")], [PASSTHROUGH_AUDITED]),
    # bypass (port 443: mesh-leg parent does not resolve)
    "broken-missing-parent.yaml": ([
        unrouted(0, 443, " (TLSRoute default/cnn-to-gateway names default/cnn-external, which does not exist)"),
        ("egress-references-resolve", "TLSRoute default/cnn-to-gateway", "spec.parentRefs[0].name", "cnn-external",
         "ServiceEntry default/cnn-external does not exist in the stack, so istiod makes no mesh route from this "
         "parentRef and sidecars send the host straight out",
         "name an existing ServiceEntry (parentRefs: group networking.istio.io, kind ServiceEntry)")],
        [PASSTHROUGH_AUDITED]),
    # broken (mesh leg to a port the gateway does not listen on): extractServicePorts
    "broken-wrong-port.yaml": ([
        ("egress-via-gateway", "TLSRoute default/cnn-to-gateway", "spec.rules[0].backendRefs[0].port", 8443,
         "TLSRoute default/cnn-to-gateway sends port 443 of edition.cnn.com to port 8443 of cnn-egress-istio, but "
         "Gateway default/cnn-egress has no listener for edition.cnn.com on that port (its Service has 443), so "
         "sidecars have no cluster for it and drop the connections",
         "send it to the port of the Gateway's listener for edition.cnn.com")], [PASSTHROUGH_AUDITED]),
}


def test_every_documented_config_is_in_the_table() -> None:
    assert sorted(EXPECTED) == sorted(p.name for p in DOCS.glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_documented_config_gets_its_verdict(name: str) -> None:
    plain, audited = EXPECTED[name]
    assert judge(load(name)) == plain
    assert judge(load(name), AUDITED) == [*plain, *audited]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_verdict_line_agrees_with_the_table(name: str) -> None:
    """The fixture's own ``verdict:`` word and the rows: pass has no finding, bypass says a port goes
    straight to the host, broken names an object and a fix without calling it a bypass."""
    verdict = re.search(r"^# verdict: (\w+)", (DOCS / name).read_text(), re.M)
    assert verdict is not None
    rows, _ = EXPECTED[name]
    if verdict[1] == "pass":
        assert rows == []
    elif verdict[1] == "bypass":
        assert any("straight to the host" in r[4] for r in rows)
    else:
        assert rows and not any("straight to the host" in r[4] for r in rows if r[0] == "egress-via-gateway")


# The model's answers (routing.Path), which the rules and diagram read: (port, via, app, server TLS,
# passthrough, origination, host port, breaks). A TLS listener in Passthrough mode is not interpreted;
# an HTTPS listener after ISTIO_MUTUAL (gateway.istio.io/tls-terminate-mode) is.
PATHS: dict[str, list[tuple[Any, ...]]] = {
    "tls-passthrough.yaml": [(443, "default/cnn-egress", "tls", "PASSTHROUGH", True, None, 443, [])],
    "http-port-80.yaml": [(80, "default/cnn-egress", "http", None, False, None, 80, []),
                          (443, None, "", None, False, None, 443, [("unrouted-port", 443)])],
    "tls-origination.yaml": [(80, "default/cnn-egress", "http", "ISTIO_MUTUAL", False, "SIMPLE", 443, []),
                             (443, None, "", None, False, None, 443, [("unrouted-port", 443)])],
    "mtls-origination.yaml": [],  # no ServiceEntry: nothing the Gateway API flavour carries
    "broken-missing-gateway-leg.yaml": [(443, None, "tls", None, False, None, 443, [("no-gateway-route", 443)])],
    "broken-missing-parent.yaml": [(443, None, "", None, False, None, 443, [("unrouted-port", 443)])],
    "broken-wrong-port.yaml": [(443, None, "tls", None, False, None, 443, [("no-gateway-route", 443)])],
}


@pytest.mark.parametrize("name", sorted(PATHS))
def test_the_model_answers_with_paths(name: str) -> None:
    assert [(p.port, p.via, p.app, p.server_tls, p.passthrough, p.origination, p.target_port,
             [(b.kind, b.port) for b in p.breaks]) for p in gateway_api_paths(load(name))] == PATHS[name]
    assert {(p.host, p.entry, p.flavour) for p in gateway_api_paths(load(name))} <= {
        ("edition.cnn.com", "default/cnn", "gateway-api")}


def moved_origination(namespace: str) -> list[Manifest]:
    """tls-origination.yaml with the originating DestinationRule in ``namespace``, exported to '.'."""
    return [{**m, "metadata": {**m["metadata"], "namespace": namespace}, "spec": {**m["spec"], "exportTo": ["."]}}
            if m["metadata"]["name"] == "cnn-originate-tls" else m for m in load("tls-origination.yaml")]


def test_the_originating_rule_lives_where_istio_deploys_the_gateway() -> None:
    # Istio deploys the Gateway's proxy in the Gateway's namespace (default); a rule in shop
    # exported to '.' is not what it uses (SidecarScope.DestinationRule), and applies to shop's sidecars.
    assert judge(moved_origination("default")) == [unrouted(1, 443)]
    assert judge(moved_origination("shop")) == [
        unrouted(1, 443),
        ("egress-visibility", "DestinationRule shop/cnn-originate-tls", "metadata.namespace", "shop",
         "the DestinationRule originating TLS (SIMPLE) to edition.cnn.com lives in namespace shop, not in the egress "
         "gateway's namespace default: the gateway reads credentials only from its own namespace and does not see "
         "it, while it applies to the sidecars in shop instead",
         "move it to namespace default, exported to '.' only")]
    assert [p.origination for p in gateway_api_paths(moved_origination("shop"))] == [None, None]


def without(name: str, kind: str) -> list[Manifest]:
    return [m for m in load(name) if m["kind"] != kind]


def typo_backend() -> list[Manifest]:
    """tls-passthrough.yaml with the gateway leg sent to a host no ServiceEntry declares."""
    return [{**m, "spec": {**m["spec"], "rules": [{"backendRefs": [
        {"group": "networking.istio.io", "kind": "Hostname", "name": "edition.cnn.co", "port": 443}]}]}}
        if m["metadata"]["name"] == "cnn-from-gateway" else m for m in load("tls-passthrough.yaml")]


MISSING_GRANT = (
    "egress-references-resolve", "HTTPRoute default/nginx-from-gateway", "spec.rules[0].backendRefs[0].name",
    "my-nginx",
    "Service mesh-external/my-nginx is in another namespace and no ReferenceGrant there lets HTTPRoutes of default "
    "refer to it, so istiod refuses the backend on the gateway (buildDestination, ReferenceGrants.BackendAllowed) and "
    "the route has no destination",
    "add a ReferenceGrant in mesh-external from group gateway.networking.k8s.io, kind HTTPRoute, namespace default to "
    "kind Service (name my-nginx)")
# Backends must resolve (buildDestination): one finding, on the route, for one fact (egress-via-gateway
# leaves a gateway leg whose backend does not resolve to egress-references-resolve).
BACKENDS = {
    "mtls-origination without its ReferenceGrant": (without("mtls-origination.yaml", "ReferenceGrant"),
                                                    [MISSING_GRANT]),
    "mtls-origination with a ReferenceGrant for TLSRoutes": (
        [{**m, "spec": {**m["spec"], "from": [{**m["spec"]["from"][0], "kind": "TLSRoute"}]}}
         if m["kind"] == "ReferenceGrant" else m for m in load("mtls-origination.yaml")],
        [MISSING_GRANT]),
    "tls-passthrough with the gateway leg to an undeclared host": (typo_backend(), [
        ("egress-references-resolve", "TLSRoute default/cnn-from-gateway", "spec.rules[0].backendRefs[0].name",
         "edition.cnn.co",
         "no ServiceEntry visible in default declares host edition.cnn.co, so istiod cannot resolve this backend "
         "(buildDestination: backend not found) and the route has no destination",
         "declare edition.cnn.co in a ServiceEntry exported to default, or name a host one declares")]),
}


@pytest.mark.parametrize("manifests,rows", BACKENDS.values(), ids=list(BACKENDS))
def test_backends_resolve(manifests: list[Manifest], rows: list[Row]) -> None:
    assert judge(manifests) == rows


# --- what the model does not read: said, not judged --------------------------------------------------

OTHER_CLASS = [{**m, "spec": {**m["spec"], "gatewayClassName": "envoy"}} if m["kind"] == "Gateway" else m
               for m in load("tls-passthrough.yaml")]
SELECTOR = [{**m, "spec": {**m["spec"], "listeners": [
    {**m["spec"]["listeners"][0], "allowedRoutes": {"namespaces": {"from": "Selector"}}}]}}
    if m["kind"] == "Gateway" else m for m in load("tls-passthrough.yaml")]
NOT_READ = {
    "another gatewayClassName": (
        OTHER_CLASS,
        "did not judge these Gateway API objects: Gateway default/cnn-egress has gatewayClassName 'envoy', not istio: "
        "who deploys it and under which Service is not Istio's to say"),
    "allowedRoutes by selector": (
        SELECTOR,
        "did not judge these Gateway API objects: Gateway default/cnn-egress spec.listeners[0] allows routes from "
        "Selector namespaces, which the Gateway API egress model does not read"),
}


@pytest.mark.parametrize("manifests,reason", NOT_READ.values(), ids=list(NOT_READ))
def test_what_the_model_does_not_read_is_said(manifests: list[Manifest], reason: str) -> None:
    for module in STACK_RULES:
        applies = module.RULE.applies
        assert applies is not None
        assert applies(manifests, {}) == f"{module.RULE.name} {reason}"
    assert egress_via_gateway.RULE.applies is not None
    assert egress_via_gateway.RULE.applies(load("tls-passthrough.yaml"), {}) is None


# --- our own output -------------------------------------------------------------------------------

GATEWAY_API_ARGS = {
    "passthrough": {"host": "edition.cnn.com", "tls_mode": "PASSTHROUGH", "client_namespaces": ["default"]},
    "simple-origination": {"host": "api.weather.example", "tls_mode": "SIMPLE", "client_namespaces": ["shop", "ci"]},
    "simple-termination": {"host": "api.payments.example", "tls_mode": "SIMPLE", "client_namespaces": ["payments"],
                           "terminate_credential_name": "inspection-cert"},
    "mutual": {"host": "nginx.example.com", "tls_mode": "MUTUAL", "client_namespaces": ["shop"],
               "client_credential_name": "client-credential", "authorization_policy": True},
}
CLASSIC_ARGS = [
    {"host": "api.stripe.com", "tls_mode": "PASSTHROUGH", "client_namespaces": ["payments"]},
    {"host": "api.github.com", "tls_mode": "SIMPLE", "client_namespaces": ["ci"]},
]


def ours(args: dict[str, Any], namespace: str) -> list[Manifest]:
    return list(gateway_api_manifests(parse_route({**args, "api": "GATEWAY_API",
                                                   "gateway_namespace": namespace})).values())


@pytest.mark.parametrize("pattern", sorted(GATEWAY_API_ARGS))
def test_our_gateway_api_output_passes_alone(pattern: str) -> None:
    args = GATEWAY_API_ARGS[pattern]
    # Every interpreting pattern serves an audited host (PASSTHROUGH cannot: the rule says so).
    assert judge(ours(args, "egress"), [args["host"]] if pattern != "passthrough" else []) == []


@pytest.mark.parametrize("pattern", sorted(GATEWAY_API_ARGS))
def test_our_gateway_api_output_passes_beside_classic_routes_on_one_gateway(pattern: str) -> None:
    # The classic routes share istio-system's egress gateway; the Gateway API route runs its own
    # gateway in istio-system too, beside them.
    classic = [m for args in CLASSIC_ARGS for m in route_manifests(parse_route(args))]
    assert judge([*classic, *ours(GATEWAY_API_ARGS[pattern], "istio-system")]) == []


WEATHER = "egress-api-weather-example"
WEATHER_SERVICE = f"{WEATHER}-istio.egress.svc.cluster.local"
NO_SNI = (f"so sidecars there connect to port 80 of {WEATHER_SERVICE} without SNI api.weather.example, and the "
          f"listener egress of Gateway egress/{WEATHER}, which takes the sidecars' ISTIO_MUTUAL by hostname, never "
          "takes the connection")


def _sidecar_rule(change: Any) -> list[Manifest]:
    """Origination for shop and ci, with the sidecars' ISTIO_MUTUAL DestinationRule changed."""
    found: list[Manifest] = []
    for m in ours(GATEWAY_API_ARGS["simple-origination"], "egress"):
        if m["kind"] == "DestinationRule" and m["metadata"]["name"] == f"{WEATHER}-gateway":
            m = change(m)
        found += [m] if m is not None else []
    return found


SIDECAR_RULE = {
    "exported to shop only": (lambda m: {**m, "spec": {**m["spec"], "exportTo": ["shop"]}}, [
        ("egress-visibility", f"DestinationRule egress/{WEATHER}-gateway", "spec.exportTo", ["shop"],
         f"the DestinationRule wrapping port 80 of {WEATHER_SERVICE} in ISTIO_MUTUAL with SNI api.weather.example is "
         "not what Istio finds for it in client namespace ci (the client's own namespace first, then rules exported "
         f"to it from the Service's and the root namespace), {NO_SNI}",
         "export it to ci (EgressRoute exports it to the client namespaces)")]),
    "with the SNI of another host": (lambda m: {**m, "spec": {**m["spec"], "trafficPolicy": {"portLevelSettings": [
        {"port": {"number": 80}, "tls": {"mode": "ISTIO_MUTUAL", "sni": "api.other.example"}}]}}}, [
        ("egress-visibility", f"HTTPRoute egress/{WEATHER}-mesh", "spec.rules[0].backendRefs[0]", None,
         f"no DestinationRule for {WEATHER_SERVICE} wraps port 80 in ISTIO_MUTUAL with SNI api.weather.example for "
         f"client namespaces ci, shop, {NO_SNI}",
         f"add a DestinationRule for {WEATHER_SERVICE} with portLevelSettings [{{port: {{number: 80}}, tls: {{mode: "
         "ISTIO_MUTUAL, sni: api.weather.example}}], visible in ci, shop")]),
    "missing": (lambda m: None, [
        ("egress-visibility", f"HTTPRoute egress/{WEATHER}-mesh", "spec.rules[0].backendRefs[0]", None,
         f"no DestinationRule for {WEATHER_SERVICE} wraps port 80 in ISTIO_MUTUAL with SNI api.weather.example for "
         f"client namespaces ci, shop, {NO_SNI}",
         f"add a DestinationRule for {WEATHER_SERVICE} with portLevelSettings [{{port: {{number: 80}}, tls: {{mode: "
         "ISTIO_MUTUAL, sni: api.weather.example}}], visible in ci, shop")]),
}


@pytest.mark.parametrize("change,rows", SIDECAR_RULE.values(), ids=list(SIDECAR_RULE))
def test_clients_find_the_istio_mutual_rule_for_the_deployed_service(change: Any, rows: list[Row]) -> None:
    assert judge(_sidecar_rule(change)) == rows


def test_our_gateway_api_output_is_judged_not_skipped() -> None:
    """The same output with the gateway-leg route taken away is broken: the rules read it."""
    manifests = [m for m in ours(GATEWAY_API_ARGS["passthrough"], "egress")
                 if not (m["kind"] == "TLSRoute" and m["spec"]["parentRefs"][0]["kind"] == "Gateway")]
    assert [(r[0], r[1], r[2]) for r in judge(manifests)] == [
        ("egress-via-gateway", "ServiceEntry egress/egress-edition-cnn-com", "spec.ports[0].number")]


def ingress_gateway(hostname: str) -> Manifest:
    return {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "ingress"},
            "spec": {"gatewayClassName": "istio", "listeners": [
                {"name": "https", "hostname": hostname, "port": 443, "protocol": "HTTPS",
                 "tls": {"mode": "Terminate", "certificateRefs": [{"name": "public-cert"}]}}]}}


@pytest.mark.parametrize("hostname", ["api.stripe.com", "*.stripe.com"])
def test_a_gateway_api_listener_does_not_take_a_classic_route(hostname: str) -> None:
    # A VirtualService names the host: the classic flavour routes it, whatever a Gateway API
    # (e.g. ingress) listener says (objects.gateway_api_service_entries).
    classic = route_manifests(parse_route(CLASSIC_ARGS[0]))
    assert judge([*classic, ingress_gateway(hostname)]) == []
