"""gateway-api-valid: the Gateway API CRDs' verdict on Gateway API objects, in the rule and in the pack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway_api_crds import channel_path
from test_conformance_gateway_api import MESH_HTTP_ROUTE, cel_fix, edited

from pulumi_istio_egress.cli.pack_client import Resource, run_pack
from pulumi_istio_egress.findings import Finding
from pulumi_istio_egress.policies import gateway_api_valid
from pulumi_istio_egress.policies.pack import ADVISORIES

PACK = Path(__file__).parents[1] / "policy"
NO_PORT = edited(MESH_HTTP_ROUTE, ("spec", "rules", 0, "backendRefs", 0, "port"), ...)
NO_PORT_FINDING = Finding(
    "spec.rules[0].backendRefs[0]",
    {"name": "cnn-egress-gateway-istio", "group": "", "kind": "Service", "weight": 1},
    'Invalid value: "object": Must have port for Service reference',
    cel_fix("spec.rules[0].backendRefs[0]",
            "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true"),
)
ISTIO_ENTRY = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
               "metadata": {"name": "x", "namespace": "egress"}, "spec": {"hostz": []}}


def crd_files() -> list[str]:
    path = channel_path("experimental")
    assert path.is_file(), f"Gateway API CRDs not found at {path}"
    return [str(path)]


CASES = {
    "valid route": (MESH_HTTP_ROUTE, True, []),
    "defaulted Service backend without port": (NO_PORT, True, [NO_PORT_FINDING]),
    "without CRDs: not judged": (NO_PORT, False, []),
    "Istio kinds are istio-valid's": (ISTIO_ENTRY, True, []),
}


@pytest.mark.parametrize(("manifest", "with_crds", "expected"), CASES.values(), ids=CASES.keys())
def test_rule(manifest: dict[str, Any], with_crds: bool, expected: list[Finding],
              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gateway_api_valid.CRDS_ENV, raising=False)
    config = {"crdFiles": crd_files() if with_crds else []}
    assert list(gateway_api_valid.RULE.check(manifest, config)) == expected


def test_environment_variable_names_the_crds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gateway_api_valid.CRDS_ENV, crd_files()[0])
    assert list(gateway_api_valid.RULE.check(NO_PORT, {"crdFiles": []})) == [NO_PORT_FINDING]


def test_unreadable_crds_are_a_finding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gateway_api_valid.CRDS_ENV, raising=False)
    (finding,) = gateway_api_valid.RULE.check(NO_PORT, {"crdFiles": ["missing.yaml"]})
    assert finding.message.startswith("cannot load the Gateway API CRDs ['missing.yaml'] (relative paths start at the "
                                      "policy pack directory): ")
    assert finding.fix == "point crdFiles or $GATEWAY_API_CRDS at readable CRD files"


def _emitted() -> list[dict[str, Any]]:
    case = yaml.safe_load((Path(__file__).parent / "fixtures" / "gateway-api" / "passthrough.yaml").read_text())
    return [e["manifest"] for e in case["expected"]]


def _ours(violations: list[Any]) -> list[tuple[str, str, str]]:
    return [(v.policy_name, v.urn.rsplit("::", 1)[-1], v.message.split("\n", 1)[-1])
            for v in violations if v.policy_name in (gateway_api_valid.RULE.name, ADVISORIES)]


def test_pack_judges_gateway_api_objects_with_their_crds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(gateway_api_valid.CRDS_ENV, crd_files()[0])
    broken = edited(NO_PORT, ("metadata", "name"), "broken")
    got = _ours(run_pack(PACK, [Resource.from_manifest(m) for m in [*_emitted(), broken]]))
    assert got == [(gateway_api_valid.RULE.name, "egress/broken",
                    "spec.rules[0].backendRefs[0]: Invalid value: \"object\": Must have port for Service reference "
                    "(got {'name': 'cnn-egress-gateway-istio', 'group': '', 'kind': 'Service', 'weight': 1}). Fix: "
                    + NO_PORT_FINDING.fix)]


def test_pack_says_when_gateway_api_objects_were_not_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gateway_api_valid.CRDS_ENV, raising=False)
    got = _ours(run_pack(PACK, [Resource.from_manifest(m) for m in _emitted()]))
    assert got == [(ADVISORIES, "project-stack",
                    "gateway-api-valid did not judge 3 Gateway API object(s): no Gateway API CRDs were configured. "
                    "Fix: set gateway-api-valid's crdFiles (e.g. the output of `kubectl get crd -o yaml`) or "
                    "$GATEWAY_API_CRDS")]


DOCS = sorted((Path(__file__).parent / "fixtures" / "istio-docs" / "gateway-api").glob("*.yaml"))


@pytest.mark.parametrize("path", DOCS, ids=[p.stem for p in DOCS])
def test_documented_configs_and_their_broken_variants_are_schema_valid(path: Path) -> None:
    """Only routing semantics tell these configs apart: every object passes its CRDs and the webhook,
    and each file states Istio's verdict for the routing rules to come."""
    from test_conformance import istio_crds

    from pulumi_istio_egress.webhook import webhook_findings

    text = path.read_text()
    verdict = [line.split(":", 1)[1].split()[0] for line in text.splitlines() if line.startswith("# verdict:")]
    assert len(verdict) == 1, path.name
    verdict_word = verdict[0].rstrip(",")
    assert verdict_word in (("broken", "bypass") if path.stem.startswith("broken-") else ("pass", "bypass")), path.name
    gateway_api = gateway_api_valid.RULE
    for manifest in yaml.safe_load_all(text):
        group = manifest["apiVersion"].rpartition("/")[0]
        if group in gateway_api_valid.GROUPS:
            assert list(gateway_api.check(manifest, {"crdFiles": crd_files()})) == [], manifest["metadata"]
        elif group.endswith("istio.io"):
            assert istio_crds().validate(manifest) == [], manifest["metadata"]
            assert webhook_findings(manifest) == [], manifest["metadata"]
        else:
            assert group == "rbac.authorization.k8s.io"


@pytest.mark.parametrize(("manifest", "reason"), [
    (MESH_HTTP_ROUTE, None),
    (ISTIO_ENTRY, "gateway-api-valid judges only gateway.networking.k8s.io and gateway.networking.x-k8s.io kinds"),
], ids=["gateway api route", "istio kind"])
def test_applies_only_to_gateway_api_kinds(manifest: dict[str, Any], reason: str | None) -> None:
    assert gateway_api_valid.applies(manifest, {}) == reason
