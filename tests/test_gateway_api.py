"""EgressRoute with ``api=GATEWAY_API``: whole manifests per pattern, every object valid against
Istio's and Gateway API's CRDs (and istiod's webhook), and bad input refused before registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from gateway_api_crds import CHANNELS, gateway_api_crds
from mocking import children, load_case, registers_exactly, run
from test_conformance import istio_crds

from pulumi_istio_egress import EgressRoute, EgressRouteError, RouteApi, parse_route
from pulumi_istio_egress.manifests_gateway_api import gateway_api_manifests
from pulumi_istio_egress.webhook import webhook_findings

CASES_DIR = Path(__file__).parent / "fixtures" / "gateway-api"
CASES = sorted(CASES_DIR.glob("*.yaml"))
COMPONENT = "istio-egress:index:EgressRoute"


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_pattern_registers_exactly_its_objects(path: Path) -> None:
    registers_exactly(path, EgressRoute, COMPONENT)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_outputs(path: Path) -> None:
    case = load_case(path)
    recording = run(lambda: EgressRoute(case["name"], case["args"]))
    outputs = recording.outputs[case["name"]]
    manifests = gateway_api_manifests(parse_route(case["args"]))
    names = {key: m["metadata"]["name"] for key, m in manifests.items()}
    assert outputs == {
        "namespace": case["args"].get("gateway_namespace", "istio-system"),
        "service_entry_name": names["serviceentry"],
        "gateway_name": names["gateway"],
        "virtual_service_name": "",
        "gateway_destination_rule_name": names["gateway-destinationrule"],
        "origination_destination_rule_name": names.get("origination-destinationrule", ""),
        "authorization_policy_name": names.get("authorizationpolicy", ""),
        "subset_name": "",
        "objects": [f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}" for m in manifests.values()],
    }


def _all_manifests() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in CASES:
        for key, manifest in gateway_api_manifests(parse_route(load_case(path)["args"])).items():
            out.append((f"{path.stem}:{key}", manifest))
    return out


ALL = _all_manifests()


@pytest.mark.parametrize("manifest", [m for _, m in ALL], ids=[i for i, _ in ALL])
def test_every_object_passes_its_crds_and_the_webhook(manifest: dict[str, Any]) -> None:
    group = manifest["apiVersion"].rpartition("/")[0]
    if group == "gateway.networking.k8s.io":
        for channel in CHANNELS:
            assert gateway_api_crds(channel).validate(manifest) == [], channel
    elif group.endswith("istio.io"):
        assert istio_crds().validate(manifest) == []
        assert webhook_findings(manifest) == []
    else:  # core Kubernetes RBAC: checked by its shape only
        assert manifest["apiVersion"] == "rbac.authorization.k8s.io/v1"


BASE = {"host": "edition.cnn.com", "tls_mode": "SIMPLE", "client_namespaces": ["default"], "api": "GATEWAY_API"}
BAD_INPUT = {
    "unknown api": (
        {**BASE, "api": "gateway_api"},
        "EgressRoute 'cnn': api='gateway_api' is invalid: it is not a known API (upper case: 'GATEWAY_API'). "
        "Fix: use one of 'ISTIO', 'GATEWAY_API'",
    ),
    "gateway_selector does not apply": (
        {**BASE, "gateway_selector": {"istio": "egressgateway"}},
        "EgressRoute 'cnn': gateway_selector={'istio': 'egressgateway'} is invalid: under api GATEWAY_API Istio "
        "deploys this route's own gateway from its Gateway. Fix: remove gateway_selector (the gateway runs in "
        "gateway_namespace), or use api ISTIO for a shared gateway",
    ),
    "gateway_service does not apply": (
        {**BASE, "gateway_service": "istio-egressgateway.istio-system.svc.cluster.local"},
        "EgressRoute 'cnn': gateway_service='istio-egressgateway.istio-system.svc.cluster.local' is invalid: under "
        "api GATEWAY_API Istio deploys this route's own gateway from its Gateway. Fix: remove gateway_service (the "
        "gateway runs in gateway_namespace), or use api ISTIO for a shared gateway",
    ),
    # The same rule as the classic objects' (route.py): no client in the gateway's namespace.
    "origination client in the gateway namespace": (
        {**BASE, "client_namespaces": ["default", "istio-system"]},
        "EgressRoute 'cnn': client_namespaces=['default', 'istio-system'] is invalid: it includes the gateway "
        "namespace 'istio-system', where the gateway's own ServiceEntry shows the host's TLS port to every workload, "
        "so they could leave the mesh without the gateway. Fix: run the clients outside 'istio-system', or use a "
        "separate egress gateway namespace",
    ),
    "not with the ambient data plane": (
        {**BASE, "dataplane": "AMBIENT"},
        "EgressRoute 'cnn': api='GATEWAY_API' is invalid: it chooses how sidecars reach an egress gateway; under "
        "AMBIENT the route's waypoint (already a Gateway API Gateway) is the egress point. Fix: remove api, or use "
        "dataplane SIDECAR",
    ),
    "same rules as ISTIO: PASSTHROUGH has no SNI": (
        {**BASE, "tls_mode": "PASSTHROUGH", "sni": "edition.cnn.com"},
        "EgressRoute 'cnn': sni='edition.cnn.com' is invalid: PASSTHROUGH never touches the app's TLS, so it has "
        "no use for it. Fix: remove sni, or use tls_mode SIMPLE/MUTUAL to let the gateway handle TLS",
    ),
}


@pytest.mark.parametrize(("args", "message"), BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_registers_nothing(args: dict[str, Any], message: str) -> None:
    def program() -> None:
        with pytest.raises(EgressRouteError) as raised:
            EgressRoute("cnn", args)  # type: ignore[arg-type]
        assert str(raised.value) == message

    recording = run(program)
    assert recording.resources == []


def test_api_defaults_to_istio() -> None:
    assert parse_route({k: v for k, v in BASE.items() if k != "api"}).api is RouteApi.ISTIO
    assert RouteApi("GATEWAY_API") is RouteApi.GATEWAY_API


@pytest.mark.parametrize(("case", "outputs"), [
    ("simple-termination", ("host", "terminate_credential_name", "gateway_namespace")),
    ("mutual", ("host", "client_credential_name", "subject_alt_names")),
    ("simple-ca-credential", ("port", "http_port", "ca_credential_name", "sni")),
], ids=["termination", "mutual", "ca-credential"])
def test_output_args_resolve_into_the_same_objects(case: str, outputs: tuple[str, ...]) -> None:
    loaded = load_case(CASES_DIR / f"{case}.yaml")
    args = dict(loaded["args"], **{f: pulumi.Output.from_input(loaded["args"][f]) for f in outputs})
    recording = run(lambda: EgressRoute(loaded["name"], args))  # type: ignore[arg-type]
    assert children(recording.resources, COMPONENT) == loaded["expected"]


def test_api_as_output_is_refused_up_front() -> None:
    args = {**BASE, "api": pulumi.Output.from_input("GATEWAY_API")}
    with pytest.raises(EgressRouteError) as caught:
        run(lambda: EgressRoute("cnn", args))  # type: ignore[arg-type]
    assert str(caught.value).startswith("EgressRoute 'cnn': api=<pulumi.output.Output object at ")
    assert str(caught.value).endswith(" is invalid: it is an Output, but it decides which objects the route "
                                      "creates. Fix: pass a plain value (other fields may be Outputs)")
