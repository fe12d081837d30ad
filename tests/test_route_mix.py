"""Routes of every mode mixed on one shared egress gateway, beside a user's own objects, judged by the
whole pack.

Each mix is rendered through the pure core (``route_manifests`` and the Gateway API and ambient
flavours' functions, chosen as ``EgressRoute`` chooses them), with PASSTHROUGH, SIMPLE origination,
SIMPLE termination and MUTUAL routes, with and without ``authorization_policy``, in the ISTIO and
GATEWAY_API APIs and the SIDECAR and AMBIENT data planes. Every resource rule and stack rule of the
pack runs in-process on the whole mix: no mandatory rule may report anything, and the advisories are
exactly the table's. Where the pack's verdict on a mix is wrong by Istio's semantics, the table holds
the right one and the case is a strict xfail saying what is wrong (WRONG_MANDATORY).
A control case shows the same judging does catch a user object that breaks a route (so "no mandatory
finding" is a verdict, not silence).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from gateway_api_crds import channel_path

from pulumi_istio_egress import parse_route, route_manifests
from pulumi_istio_egress.args import Dataplane, RouteApi
from pulumi_istio_egress.findings import Finding, Manifest, object_ref
from pulumi_istio_egress.lockdown import lockdown_manifests, parse_lockdown
from pulumi_istio_egress.manifests_ambient import ambient_keyed_manifests
from pulumi_istio_egress.manifests_gateway_api import gateway_api_manifests
from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES
from pulumi_istio_egress.policies.rule import ResourceRule, StackRule

RULES: tuple[ResourceRule | StackRule, ...] = (*RESOURCE_RULES, *STACK_RULES)
ISTIO_CRDS = Path(os.environ.get("ISTIO_CRDS") or
                  Path(__file__).parents[2] / "shared/reference/istio-crds/crd-all.gen.yaml")
CRD_FILES = {"istio-valid": [str(ISTIO_CRDS)], "gateway-api-valid": [str(channel_path("standard"))]}
Row = tuple[str, str, str, Any, str, str]
"""(rule, object, path, value, message, fix) of one finding."""


def made(args: dict[str, Any]) -> list[Manifest]:
    """The objects EgressRoute registers for ``args`` (component._keyed's choice of flavour)."""
    route = parse_route(args)
    if route.dataplane is Dataplane.AMBIENT:
        return list(ambient_keyed_manifests(route).values())
    if route.api is RouteApi.GATEWAY_API:
        return list(gateway_api_manifests(route).values())
    return route_manifests(route)


def judge(manifests: list[Manifest]) -> dict[str, list[Row]]:
    """Every finding of the pack on the stack, by enforcement level."""
    found: dict[str, list[Row]] = {"mandatory": [], "advisory": []}
    for rule in RULES:
        config = {**rule.defaults(), **({"crdFiles": CRD_FILES[rule.name]} if rule.name in CRD_FILES else {})}
        pairs: list[tuple[Manifest, Finding]]
        if isinstance(rule, ResourceRule):
            pairs = [(m, f) for m in manifests for f in rule.check(m, config)]
        else:
            pairs = list(rule.check(manifests, config))
        found[rule.enforcement] += [(rule.name, object_ref(m), f.path, f.value, f.message, f.fix) for m, f in pairs]
    return found


# --- the routes ----------------------------------------------------------------------------------

SIDECAR = [
    {"host": "api.stripe.com", "tls_mode": "PASSTHROUGH", "client_namespaces": ["payments"]},
    {"host": "api.github.com", "tls_mode": "SIMPLE", "client_namespaces": ["ci", "builds"],
     "authorization_policy": True},
    {"host": "hooks.slack.com", "tls_mode": "SIMPLE", "client_namespaces": ["alerts"],
     "terminate_credential_name": "egress-inspection-cert"},
    {"host": "api.bank.example", "tls_mode": "MUTUAL", "client_namespaces": ["payments"],
     "client_credential_name": "bank-client-cert", "authorization_policy": True,
     "client_service_accounts": ["payments/checkout"]},
    {"host": "api.example.com", "tls_mode": "SIMPLE", "client_namespaces": ["ci"], "port": 8443, "http_port": 8080,
     "ca_credential_name": "example-ca"},
    {"host": "uploads.example.com", "tls_mode": "PASSTHROUGH", "client_namespaces": ["ci", "alerts"]},
]
GATEWAY_API = [
    {"host": "edition.cnn.com", "tls_mode": "PASSTHROUGH", "client_namespaces": ["default"], "api": "GATEWAY_API",
     "gateway_namespace": "egress"},
    {"host": "api.weather.example", "tls_mode": "SIMPLE", "client_namespaces": ["default", "shop"],
     "api": "GATEWAY_API", "gateway_namespace": "egress", "authorization_policy": True},
    {"host": "api.payments.example", "tls_mode": "SIMPLE", "client_namespaces": ["payments"], "api": "GATEWAY_API",
     "terminate_credential_name": "inspection-cert", "gateway_namespace": "egress"},
    {"host": "nginx.example.com", "tls_mode": "MUTUAL", "client_namespaces": ["shop"], "api": "GATEWAY_API",
     "client_credential_name": "client-credential", "gateway_namespace": "egress"},
]
WAYPOINT = "egress-api-maps-example-waypoint"
AMBIENT = [
    {"host": "api.maps.example", "tls_mode": "SIMPLE", "dataplane": "AMBIENT", "client_namespaces": ["ci"],
     "authorization_policy": True},
    {"host": "api.search.example", "tls_mode": "PASSTHROUGH", "dataplane": "AMBIENT", "client_namespaces": ["ci"],
     "waypoint": WAYPOINT},
    {"host": "api.ledger.example", "tls_mode": "PASSTHROUGH", "dataplane": "AMBIENT",
     "client_namespaces": ["payments"], "waypoint": WAYPOINT, "authorization_policy": True},
    {"host": "api.clearing.example", "tls_mode": "MUTUAL", "dataplane": "AMBIENT", "client_namespaces": ["payments"],
     "client_credential_name": "clearing-client", "waypoint": WAYPOINT, "authorization_policy": True,
     "client_service_accounts": ["payments/checkout"]},
]


# --- a user's own objects beside ours --------------------------------------------------------------

def obj(kind: str, namespace: str, name: str, spec: dict[str, Any]) -> Manifest:
    return {"apiVersion": "networking.istio.io/v1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "spec": spec}


EGW = "istio-egressgateway.istio-system.svc.cluster.local"
USER_ROUTE = [
    # A hand-written PASSTHROUGH route for another host through the same gateway pods, with its own
    # Gateway object (Istio merges servers on one port by SNI: pilot/pkg/model/gateway.go MergeGateways).
    obj("ServiceEntry", "partners", "partner-api", {
        "hosts": ["api.partner.example"], "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": ["."],
        "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}),
    obj("ServiceEntry", "istio-system", "partner-api", {
        "hosts": ["api.partner.example"], "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": ["."],
        "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}),
    obj("Gateway", "istio-system", "partner-egress", {"selector": {"istio": "egressgateway"}, "servers": [
        {"port": {"number": 443, "name": "tls-partner", "protocol": "TLS"},
         "hosts": ["istio-system/api.partner.example"], "tls": {"mode": "PASSTHROUGH"}}]}),
    obj("DestinationRule", "partners", "partner-gateway", {
        "host": EGW, "exportTo": ["."], "subsets": [{"name": "partner", "trafficPolicy": {"portLevelSettings": [
            {"port": {"number": 443}, "tls": {"mode": "DISABLE"}}]}}]}),
    obj("VirtualService", "istio-system", "partner-api", {
        "hosts": ["api.partner.example"], "gateways": ["mesh", "partner-egress"], "exportTo": [".", "partners"],
        "tls": [{"match": [{"gateways": ["mesh"], "port": 443, "sniHosts": ["api.partner.example"]}],
                 "route": [{"destination": {"host": EGW, "subset": "partner", "port": {"number": 443}}}]},
                {"match": [{"gateways": ["partner-egress"], "port": 443, "sniHosts": ["api.partner.example"]}],
                 "route": [{"destination": {"host": "api.partner.example", "port": {"number": 443}}}]}]}),
]
# A user's connection pooling for the gateway in a client namespace, exported like ours: Istio
# merges it with our subset rules there (same host, namespace and exportTo: mergeDestinationRule),
# so our subsets stay.
USER_POOL = obj("DestinationRule", "payments", "egressgateway-pool", {
    "host": EGW, "exportTo": ["."], "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}}})
# A mesh-wide default in the root namespace: clients find ours in their own namespace first
# (push_context.go destinationRule), so it never replaces a route's rule.
ROOT_DEFAULT = obj("DestinationRule", "istio-system", "mesh-default", {
    "host": "*.svc.cluster.local", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}})
USER_OBJECTS = [*USER_ROUTE, USER_POOL, ROOT_DEFAULT]


def lockdowns(*namespaces: str) -> list[Manifest]:
    return [m for ns in namespaces for m in lockdown_manifests(parse_lockdown({"namespace": ns}))]


def routes(*groups: list[dict[str, Any]]) -> list[Manifest]:
    return [m for group in groups for args in group for m in made(args)]


GATEWAY_API_APP_TLS = [a for a in GATEWAY_API if a["tls_mode"] == "PASSTHROUGH" or "terminate_credential_name" in a]
CLIENTS = ("payments", "ci", "builds", "alerts", "default", "shop", "partners")
MIXES: dict[str, list[Manifest]] = {
    "sidecar-every-mode": routes(SIDECAR),
    "sidecar-beside-user-objects": routes(SIDECAR) + USER_OBJECTS,
    "gateway-api-every-mode": routes(GATEWAY_API),
    "ambient-every-mode-one-waypoint": routes(AMBIENT),
    "every-flavour-beside-user-objects": routes(SIDECAR, GATEWAY_API, AMBIENT) + USER_OBJECTS,
    # The same without the Gateway API origination routes.
    "every-flavour-app-tls-gateway-api": routes(SIDECAR, GATEWAY_API_APP_TLS, AMBIENT) + USER_OBJECTS,
    "every-flavour-locked-down": routes(SIDECAR, GATEWAY_API, AMBIENT) + USER_OBJECTS + lockdowns(*CLIENTS),
}


# --- the advisories: egress-lockdown asks each client namespace for its lockdown ---------------------

def unlocked(entry: str, index: int, namespace: str, hosts: str, *, sidecars: bool = True) -> list[Row]:
    """egress-lockdown's advisories for a client namespace with no lockdown: its NetworkPolicy and, for
    sidecar clients, the REGISTRY_ONLY Sidecar."""
    rows = [("egress-lockdown", entry, f"spec.exportTo[{index}]", namespace,
             f"namespace {namespace} uses egress routes ({hosts}), but no NetworkPolicy there restricts the egress of "
             "all its pods (podSelector {} with Egress in policyTypes), so a pod can open a socket to any address and "
             "bypass the egress gateway",
             f"declare EgressLockdown(namespace='{namespace}'), or apply its YAML (`pulumi-istio-egress render`): a "
             f"NetworkPolicy in {namespace} with podSelector {{}}, policyTypes [Egress] and egress rules only for DNS, "
             "in-cluster pods and the CIDRs the pods must reach")]
    if sidecars:
        rows.append(("egress-lockdown", entry, f"spec.exportTo[{index}]", namespace,
                     f"namespace {namespace} uses egress routes ({hosts}), but its sidecars are not REGISTRY_ONLY: no "
                     f"Sidecar without workloadSelector in {namespace} or in the root namespace istio-system, and the "
                     "mesh's outboundTrafficPolicy is ALLOW_ANY, so sidecars pass hosts the mesh does not know "
                     "straight out",
                     f"declare EgressLockdown(namespace='{namespace}'), or apply its YAML (`pulumi-istio-egress "
                     f"render`): a Sidecar in {namespace} without workloadSelector, with outboundTrafficPolicy {{mode: "
                     "REGISTRY_ONLY} and egress hosts importing the gateway's namespace"))
    return rows


MORE = "and 2 more"
ALERTS = unlocked("ServiceEntry alerts/egress-hooks-slack-com", 0, "alerts", "hooks.slack.com, uploads.example.com")
BUILDS = unlocked("ServiceEntry builds/egress-api-github-com", 0, "builds", "api.github.com")
PARTNERS = unlocked("ServiceEntry partners/partner-api", 0, "partners", "api.partner.example")
SIDECAR_CI = unlocked("ServiceEntry ci/egress-api-github-com", 0, "ci",
                      "api.github.com, api.example.com, uploads.example.com")
SIDECAR_PAYMENTS = unlocked("ServiceEntry payments/egress-api-stripe-com", 0, "payments",
                            "api.stripe.com, api.bank.example")
MIXED_CI = unlocked("ServiceEntry ci/egress-api-github-com", 0, "ci",
                    f"api.github.com, api.example.com, uploads.example.com {MORE}")
MIXED_PAYMENTS = unlocked("ServiceEntry payments/egress-api-stripe-com", 0, "payments",
                          f"api.stripe.com, api.bank.example, api.payments.example {MORE}")
SHOP = unlocked("ServiceEntry egress/egress-api-weather-example", 1, "shop", "api.weather.example, nginx.example.com")

ADVISORIES: dict[str, list[Row]] = {
    "sidecar-every-mode": [*ALERTS, *BUILDS, *SIDECAR_CI, *SIDECAR_PAYMENTS],
    "sidecar-beside-user-objects": [*ALERTS, *BUILDS, *SIDECAR_CI, *PARTNERS, *SIDECAR_PAYMENTS],
    "gateway-api-every-mode": [
        *unlocked("ServiceEntry egress/egress-edition-cnn-com", 1, "default", "edition.cnn.com, api.weather.example"),
        *unlocked("ServiceEntry egress/egress-api-payments-example", 1, "payments", "api.payments.example"), *SHOP],
    # ztunnel does not implement outboundTrafficPolicy: only the NetworkPolicy locks ambient pods in.
    "ambient-every-mode-one-waypoint": [
        *unlocked("ServiceEntry istio-egress/egress-api-maps-example", 1, "ci", "api.maps.example, api.search.example",
                  sidecars=False),
        *unlocked("ServiceEntry istio-egress/egress-api-ledger-example", 1, "payments",
                  "api.ledger.example, api.clearing.example", sidecars=False)],
    "every-flavour-beside-user-objects": [
        *ALERTS, *BUILDS, *MIXED_CI,
        *unlocked("ServiceEntry egress/egress-edition-cnn-com", 1, "default", "edition.cnn.com, api.weather.example"),
        *PARTNERS, *MIXED_PAYMENTS, *SHOP],
    "every-flavour-app-tls-gateway-api": [
        *ALERTS, *BUILDS, *MIXED_CI,
        *unlocked("ServiceEntry egress/egress-edition-cnn-com", 1, "default", "edition.cnn.com"),
        *PARTNERS, *MIXED_PAYMENTS],
    "every-flavour-locked-down": [],
}

# Where the pack's verdict on a mix is wrong by Istio's semantics (the tables hold the right one).
# The `-upstream` ServiceEntry of a GATEWAY_API origination route is the gateway's own copy of the host
# (exported only to the Gateway's namespace): routing_gateway_api gives it no client, so no bypass.
WRONG_MANDATORY: dict[str, str] = {}


def cases(wrong: dict[str, str]) -> list[Any]:
    return [pytest.param(mix, id=mix, marks=[pytest.mark.xfail(strict=True, reason=wrong[mix])] if mix in wrong else [])
            for mix in sorted(MIXES)]


@pytest.mark.parametrize("mix", cases(WRONG_MANDATORY))
def test_no_mandatory_rule_reports_anything_on_the_mix(mix: str) -> None:
    assert judge(MIXES[mix])["mandatory"] == []


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_the_advisories_are_exactly_the_lockdowns_still_missing(mix: str) -> None:
    assert judge(MIXES[mix])["advisory"] == ADVISORIES[mix]


def test_the_mixes_hold_every_mode_on_one_shared_gateway() -> None:
    args = [*SIDECAR, *GATEWAY_API, *AMBIENT]
    shapes = {(a.get("api", "ISTIO"), a.get("dataplane", "SIDECAR"), a["tls_mode"], "terminate_credential_name" in a,
               bool(a.get("authorization_policy"))) for a in args}
    for flavour in (("ISTIO", "SIDECAR"), ("GATEWAY_API", "SIDECAR"), ("ISTIO", "AMBIENT")):
        mine = [shape[2:] for shape in shapes if shape[:2] == flavour]
        assert {mode for mode, terminates, _ in mine if not terminates} == {"PASSTHROUGH", "SIMPLE", "MUTUAL"}, flavour
        assert {authz for *_, authz in mine} == {True, False}, flavour
    assert {shape[:2] for shape in shapes if shape[3]} == {("ISTIO", "SIDECAR"), ("GATEWAY_API", "SIDECAR")}
    # One shared gateway: every sidecar route's Gateway (and the user's) selects the same pods in istio-system.
    assert {(m["metadata"]["namespace"], tuple(m["spec"]["selector"].items()))
            for m in MIXES["sidecar-beside-user-objects"] if m["kind"] == "Gateway"} == {
        ("istio-system", (("istio", "egressgateway"),))}
    # One shared waypoint: only the first ambient route makes it.
    assert [m["metadata"]["name"] for m in routes(AMBIENT) if m["kind"] == "Gateway"] == [WAYPOINT]


# --- the control: the same judging catches a user object that breaks a route -------------------------

def test_a_user_rule_that_istio_does_not_merge_drops_our_subsets() -> None:
    # Created after ours with another exportTo, so Istio does not merge it with ours: a sidecar in
    # payments uses the last one without a selector (pilot/pkg/model/sidecar.go
    # SidecarScope.DestinationRule), which has no subset for either route of payments.
    shadowing = obj("DestinationRule", "payments", "egressgateway-pool", {
        "host": EGW, "trafficPolicy": {"connectionPool": {"tcp": {"maxConnections": 100}}}})
    def dropped(route: str, path: str) -> Row:
        subset = f"egress-{route}"
        return ("egress-references-resolve", f"VirtualService istio-system/egress-{route}", path, subset,
                f"subset {subset} of {EGW} is not defined where this route is used: in payments the "
                "DestinationRule Istio uses there (payments/egressgateway-pool) does not define it; requests on the "
                "route fail with 503",
                f"define subset {subset} in a DestinationRule for {EGW} that those namespaces see (EgressRoute puts "
                "one in each client namespace, exported to '.'), or fix the subset name")

    assert judge([*routes(SIDECAR), shadowing])["mandatory"] == [
        ("export-to-scoped", "DestinationRule payments/egressgateway-pool", "spec.exportTo", None,
         "unset exportTo exports the object to every namespace",
         "set exportTo to '.' and the client namespaces that need it"),
        dropped("api-stripe-com", "spec.tls[0].route[0].destination.subset"),
        dropped("api-bank-example", "spec.http[0].route[0].destination.subset"),
    ]
