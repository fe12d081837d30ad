"""EgressRoute with dataplane=AMBIENT under Pulumi's mocks: the ambient objects of each pattern,
accepted by Istio's and the Gateway API's CRDs, and bad input refused before anything registers."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import pulumi
import pytest
from gateway_api_crds import CHANNELS, channel_path
from mocking import Registered, children, load_case, registers_exactly, run

from pulumi_istio_egress import Dataplane, EgressRoute, EgressRouteError, TlsMode, parse_route
from pulumi_istio_egress.conformance import CrdSet
from pulumi_istio_egress.webhook import webhook_findings

ROOT = Path(__file__).parents[1]
ROUTES = Path(__file__).parent / "fixtures" / "ambient" / "routes"
CASES = sorted(ROUTES.glob("*.yaml"))
COMPONENT = "istio-egress:index:EgressRoute"
ISTIO_CRDS = Path(os.environ.get("ISTIO_CRDS") or ROOT.parent / "shared/reference/istio-crds/crd-all.gen.yaml")


@functools.cache
def crds(channel: str = "standard") -> CrdSet:
    """Istio's CRDs and one Gateway API channel's (the waypoint is a gateway.networking.k8s.io
    Gateway), through the Gateway API conformance layer's test helper."""
    gateway_api = channel_path(channel)
    for path, variable in ((ISTIO_CRDS, "ISTIO_CRDS"), (gateway_api, "GATEWAY_API_CRDS_DIR")):
        assert path.is_file(), f"CRDs not found at {path}: set {variable} (the conformance check must run)"
    return CrdSet.load(ISTIO_CRDS, gateway_api)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_pattern_registers_exactly_its_objects(path: Path) -> None:
    registers_exactly(path, EgressRoute, COMPONENT)


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_every_object_passes_the_crds_and_the_webhook(path: Path, channel: str) -> None:
    manifests = [e["manifest"] for e in load_case(path)["expected"]]
    assert {m["apiVersion"] for m in manifests} >= {"networking.istio.io/v1"}
    problems = {f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}":
                [f.render() for f in [*crds(channel).validate(m), *webhook_findings(m)]] for m in manifests}
    assert problems == {ref: [] for ref in problems}


def test_the_conformance_check_judges_the_waypoint() -> None:
    """The check above can fail for the waypoint: the Gateway API CRDs are really applied to it."""
    case = load_case(ROUTES / "simple-origination.yaml")
    waypoint = next(e["manifest"] for e in case["expected"] if e["manifest"]["kind"] == "Gateway")
    broken = {**waypoint, "spec": {**waypoint["spec"], "listeners": [{"name": "mesh", "port": 0, "protocol": "HBONE"}]}}
    assert [f.render() for f in crds().validate(broken)] == [
        "spec.listeners[0].port: Invalid value: 0: spec.listeners[0].port in body should be greater than or equal "
        "to 1 (got 0). Fix: Use a value of at least 1"]


OUTPUTS = [
    ("simple-origination.yaml", {
        "namespace": "istio-egress", "service_entry_name": "egress-api-github-com",
        "gateway_name": "egress-api-github-com-waypoint", "virtual_service_name": "",
        "gateway_destination_rule_name": "", "origination_destination_rule_name": "egress-api-github-com-origination",
        "authorization_policy_name": "", "subset_name": "",
        "objects": ["Gateway istio-egress/egress-api-github-com-waypoint",
                    "ServiceEntry istio-egress/egress-api-github-com",
                    "DestinationRule istio-egress/egress-api-github-com-origination"]}),
    ("passthrough.yaml", {
        "namespace": "istio-egress", "service_entry_name": "egress-api-stripe-com",
        "gateway_name": "egress-api-stripe-com-waypoint", "virtual_service_name": "",
        "gateway_destination_rule_name": "", "origination_destination_rule_name": "",
        "authorization_policy_name": "egress-api-stripe-com", "subset_name": "",
        "objects": ["Gateway istio-egress/egress-api-stripe-com-waypoint",
                    "ServiceEntry istio-egress/egress-api-stripe-com",
                    "AuthorizationPolicy istio-egress/egress-api-stripe-com"]}),
    ("mutual-shared-waypoint.yaml", {
        "namespace": "egress", "service_entry_name": "egress-api-bank-example-com", "gateway_name": "waypoint",
        "virtual_service_name": "", "gateway_destination_rule_name": "",
        "origination_destination_rule_name": "egress-api-bank-example-com-origination",
        "authorization_policy_name": "egress-api-bank-example-com", "subset_name": "",
        "objects": ["ServiceEntry egress/egress-api-bank-example-com",
                    "DestinationRule egress/egress-api-bank-example-com-origination",
                    "AuthorizationPolicy egress/egress-api-bank-example-com"]}),
]


@pytest.mark.parametrize(("fixture", "expected"), OUTPUTS, ids=[f for f, _ in OUTPUTS])
def test_outputs(fixture: str, expected: dict[str, Any]) -> None:
    case = load_case(ROUTES / fixture)
    recording = run(lambda: EgressRoute(case["name"], case["args"]))
    assert recording.outputs[case["name"]] == expected


def test_output_args_resolve_into_the_same_objects() -> None:
    case = load_case(ROUTES / "simple-origination.yaml")
    args = dict(case["args"], host=pulumi.Output.from_input(case["args"]["host"]),
                egress_namespace=pulumi.Output.from_input("istio-egress"), dataplane=Dataplane.AMBIENT)
    recording = run(lambda: EgressRoute(case["name"], args))  # type: ignore[arg-type]
    assert children(recording.resources, COMPONENT) == case["expected"]


def test_routes_share_one_waypoint() -> None:
    """One route makes the waypoint, the others name it: one Gateway, every ServiceEntry bound to it."""
    def program() -> None:
        EgressRoute("github", {"host": "api.github.com", "tls_mode": TlsMode.SIMPLE, "client_namespaces": ["ci"],
                               "dataplane": Dataplane.AMBIENT})
        for name, host in (("stripe", "api.stripe.com"), ("slack", "hooks.slack.com")):
            EgressRoute(name, {"host": host, "tls_mode": TlsMode.PASSTHROUGH, "client_namespaces": ["ci"],
                               "dataplane": Dataplane.AMBIENT, "waypoint": "egress-api-github-com-waypoint"})

    made = [r.inputs for r in run(program).resources if r.parent == COMPONENT]
    assert sorted((m["kind"], m["metadata"]["name"], m["metadata"]["labels"].get("istio.io/use-waypoint"))
                  for m in made) == [
        ("DestinationRule", "egress-api-github-com-origination", None),
        ("Gateway", "egress-api-github-com-waypoint", None),
        ("ServiceEntry", "egress-api-github-com", "egress-api-github-com-waypoint"),
        ("ServiceEntry", "egress-api-stripe-com", "egress-api-github-com-waypoint"),
        ("ServiceEntry", "egress-hooks-slack-com", "egress-api-github-com-waypoint"),
    ]


BASE = {"host": "api.stripe.com", "tls_mode": "SIMPLE", "client_namespaces": ["payments"], "dataplane": "AMBIENT"}

BAD_INPUT = [
    ({"dataplane": "ambient"}, "dataplane='ambient' is invalid: it is not a known data plane (data planes are upper "
     "case: 'AMBIENT'). Fix: use one of 'SIDECAR', 'AMBIENT'"),
    ({"dataplane": "CNI"}, "dataplane='CNI' is invalid: it is not a known data plane. Fix: use one of 'SIDECAR', "
     "'AMBIENT'"),
    ({"gateway_namespace": "istio-system"}, "gateway_namespace='istio-system' is invalid: it only applies to the "
     "SIDECAR data plane. Fix: remove gateway_namespace; under AMBIENT the waypoint in egress_namespace is the "
     "egress point"),
    ({"gateway_selector": {"istio": "egressgateway"}}, "gateway_selector={'istio': 'egressgateway'} is invalid: it "
     "only applies to the SIDECAR data plane. Fix: remove gateway_selector; under AMBIENT the waypoint in "
     "egress_namespace is the egress point"),
    ({"gateway_service": "istio-egressgateway.istio-system.svc.cluster.local"}, "gateway_service='istio-egressgateway"
     ".istio-system.svc.cluster.local' is invalid: it only applies to the SIDECAR data plane. Fix: remove "
     "gateway_service; under AMBIENT the waypoint in egress_namespace is the egress point"),
    ({"dataplane": "SIDECAR", "egress_namespace": "istio-egress"}, "egress_namespace='istio-egress' is invalid: it "
     "only applies to the AMBIENT data plane. Fix: remove egress_namespace, or set dataplane AMBIENT to egress "
     "through a waypoint"),
    ({"dataplane": None, "waypoint": "waypoint"}, "waypoint='waypoint' is invalid: it only applies to the AMBIENT "
     "data plane. Fix: remove waypoint, or set dataplane AMBIENT to egress through a waypoint"),
    ({"terminate_credential_name": "inspect-cert"}, "terminate_credential_name='inspect-cert' is invalid: an ambient "
     "waypoint cannot terminate the app's TLS (its only listener is HBONE). Fix: let apps speak plain HTTP (SIMPLE "
     "origination), use PASSTHROUGH, or use dataplane SIDECAR"),
    ({"waypoint": "none"}, "waypoint='none' is invalid: Istio reads istio.io/use-waypoint 'none' as 'use no "
     "waypoint'. Fix: name the waypoint Gateway in egress_namespace, e.g. 'waypoint'"),
    ({"waypoint": "Egress.Waypoint"}, "waypoint='Egress.Waypoint' is invalid: it must be lower-case letters, digits "
     "and '-', starting and ending with a letter or digit. Fix: name the waypoint Gateway in egress_namespace, e.g. "
     "'waypoint'"),
    ({"waypoint": 7}, "waypoint=7 is invalid: it is not a string. Fix: name the waypoint Gateway in "
     "egress_namespace, e.g. 'waypoint'"),
    ({"egress_namespace": "Istio-Egress"}, "egress_namespace='Istio-Egress' is invalid: it must be lower-case "
     "letters, digits and '-', starting and ending with a letter or digit. Fix: give a namespace name such as "
     "'istio-system'"),
    ({"tls_mode": "PASSTHROUGH", "sni": "x.example.com"}, "sni='x.example.com' is invalid: PASSTHROUGH never "
     "touches the app's TLS, so it has no use for it. Fix: remove sni, or use tls_mode SIMPLE/MUTUAL to let the "
     "gateway handle TLS"),
    ({"client_service_accounts": ["payments/checkout"]}, "client_service_accounts=['payments/checkout'] is "
     "invalid: it only takes effect through the AuthorizationPolicy. Fix: also set authorization_policy=True"),
    # DYNAMIC_DNS is not made (route._refuse_dynamic_dns); the sidecar data plane keeps the generic wildcard error.
    ({"host": "*.example.com"}, "host='*.example.com' is invalid: it is a wildcard: ambient egress to a wildcard "
     "needs a ServiceEntry with resolution DYNAMIC_DNS (Istio 1.28+ for HTTP, 1.29+ for TLS behind "
     "ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS), which EgressRoute does not make: origination verifies one host "
     "name, and a wildcard's TLS is routed by SNI alone, which a client can spoof. Fix: name each concrete host in "
     "its own EgressRoute (they can share one waypoint)"),
    ({"host": "*.example.com", "dataplane": Dataplane.AMBIENT}, "host='*.example.com' is invalid: it is a wildcard: "
     "ambient egress to a wildcard needs a ServiceEntry with resolution DYNAMIC_DNS (Istio 1.28+ for HTTP, 1.29+ for "
     "TLS behind ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS), which EgressRoute does not make: origination verifies "
     "one host name, and a wildcard's TLS is routed by SNI alone, which a client can spoof. Fix: name each concrete "
     "host in its own EgressRoute (they can share one waypoint)"),
    ({"host": "*.example.com", "dataplane": "SIDECAR"}, "host='*.example.com' is invalid: it is a wildcard. Fix: "
     "name each concrete host in its own EgressRoute (wildcard egress cannot originate TLS)"),
    ({"dataplane_mode": "AMBIENT"}, "dataplane_mode='AMBIENT' is invalid: it is not a field of EgressRouteArgs. "
     "Fix: did you mean 'dataplane'?"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUT, ids=[str(c) for c, _ in BAD_INPUT])
def test_bad_input_is_refused_before_anything_registers(change: dict[str, Any], message: str) -> None:
    args = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    registered: list[Registered] = []

    def program() -> None:
        EgressRoute("stripe", args)  # type: ignore[arg-type]

    with pytest.raises(EgressRouteError) as caught:
        registered = run(program).resources
    assert str(caught.value) == f"EgressRoute 'stripe': {message}"
    assert registered == []


@pytest.mark.parametrize("field", ["dataplane", "waypoint"])
def test_structural_ambient_field_as_output_is_refused_up_front(field: str) -> None:
    args = {**BASE, field: pulumi.Output.from_input({"dataplane": "AMBIENT", "waypoint": "waypoint"}[field])}
    with pytest.raises(EgressRouteError) as caught:
        run(lambda: EgressRoute("stripe", args))  # type: ignore[arg-type]
    assert str(caught.value).startswith(f"EgressRoute 'stripe': {field}=<pulumi.output.Output object at ")
    assert str(caught.value).endswith(" is invalid: it is an Output, but it decides which objects the route "
                                      "creates. Fix: pass a plain value (other fields may be Outputs)")


def test_unset_dataplane_is_sidecar() -> None:
    base = {"host": "api.stripe.com", "tls_mode": "SIMPLE", "client_namespaces": ["payments"]}
    sidecar = parse_route({**base, "dataplane": "SIDECAR"})
    assert parse_route({**base, "dataplane": None}) == parse_route(base) == sidecar
    assert parse_route(base).dataplane is Dataplane.SIDECAR and parse_route(base).waypoint is None
