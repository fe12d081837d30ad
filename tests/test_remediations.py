"""Remediations: the pure functions, the rule hook, the config checks, and the pack over gRPC."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from pulumi_istio_egress.cli.pack_client import UNKNOWN, PolicyPackProcess, Resource, Secret, reconcile_config
from pulumi_istio_egress.policies import RESOURCE_RULES, dns_resolution, export_scope
from pulumi_istio_egress.policies.pack import EXEMPT_ANNOTATION
from pulumi_istio_egress.policies.remediations import dns_resolution as remediate_dns
from pulumi_istio_egress.policy_config import config_typos

PACK = Path(__file__).parents[1] / "policy"
NET = "networking.istio.io/v1"
EXPORT = export_scope.RULE.name
DNS = dns_resolution.RULE.name


def service_entry(**spec: Any) -> dict[str, Any]:
    body = {"hosts": ["api.stripe.com"], "exportTo": ["."], "location": "MESH_EXTERNAL",
            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}], **spec}
    return {"apiVersion": NET, "kind": "ServiceEntry", "metadata": {"name": "stripe", "namespace": "payments"},
            "spec": {k: v for k, v in body.items() if v is not None}}


def destination_rule(**spec: Any) -> dict[str, Any]:
    body = {"host": "api.stripe.com", "trafficPolicy": {"tls": {"mode": "SIMPLE", "sni": "api.stripe.com"}}, **spec}
    return {"apiVersion": NET, "kind": "DestinationRule", "metadata": {"name": "originate", "namespace": "egress"},
            "spec": {k: v for k, v in body.items() if v is not None}}


GATEWAY_PODS = {"matchLabels": {"istio": "egressgateway"}}


def with_spec(manifest: dict[str, Any], **spec: Any) -> dict[str, Any]:
    fixed = copy.deepcopy(manifest)
    fixed["spec"].update(spec)
    return fixed


# -- the pure functions: (manifest, remediated manifest or None) -------------------------------------

# -- export-to-scoped has none: no exportTo value is certain from one object (remediations.py) -------


def test_export_to_scoped_has_no_remediation_and_leaves_selector_rules_alone() -> None:
    # A selector rule is never exported by istiod (PushContext.setDestinationRules): not a finding,
    # so nothing to fix; one without a selector is a finding no value certainly fixes.
    assert export_scope.RULE.remediate is None
    assert list(export_scope.check(destination_rule(workloadSelector=GATEWAY_PODS), {})) == []
    assert [f.path for f in export_scope.check(destination_rule(), {})] == ["spec.exportTo"]


RESOLUTION = [
    pytest.param(service_entry(), service_entry(resolution="DNS"), id="unset"),
    pytest.param(service_entry(resolution="NONE"), service_entry(resolution="DNS"), id="none"),
    pytest.param(service_entry(hosts=["api.stripe.com", "files.stripe.com"]),
                 service_entry(hosts=["api.stripe.com", "files.stripe.com"], resolution="DNS"), id="two-hosts"),
    pytest.param(service_entry(hosts=["*.stripe.com"]), None, id="wildcard:ValidateServiceEntry-needs-FQDN"),
    pytest.param(service_entry(hosts=["api.stripe.com", "*.stripe.com"]), None, id="one-wildcard"),
    pytest.param(service_entry(addresses=["192.0.2.1"]), None, id="addresses"),
    pytest.param(service_entry(endpoints=[{"address": "192.0.2.1"}]), None, id="endpoints"),
    pytest.param(service_entry(workloadSelector={"labels": {"app": "x"}}), None, id="workload-selector"),
    pytest.param(service_entry(workloadSelector={}), None, id="empty-selector-still-selects"),
    pytest.param(service_entry(resolution="DYNAMIC_DNS"), None, id="dynamic-dns-not-understood"),
    pytest.param(service_entry(resolution="dns"), None, id="misspelt"),
    pytest.param(service_entry(resolution="STATIC"), None, id="static"),
    pytest.param(service_entry(location="MESH_INTERNAL"), None, id="internal"),
    pytest.param(service_entry(hosts=[]), None, id="no-hosts"),
    pytest.param(service_entry(hosts=["api.stripe.com", 7]), None, id="host-not-understood"),
    pytest.param(service_entry(hosts=["api_stripe.com"]), None, id="webhook-would-reject-DNS-for-a-bad-name"),
    pytest.param(destination_rule(), None, id="not-a-service-entry"),
]


@pytest.mark.parametrize(("manifest", "expected"), RESOLUTION)
def test_dns_resolution(manifest: dict[str, Any], expected: dict[str, Any] | None) -> None:
    before = copy.deepcopy(manifest)
    assert remediate_dns(manifest, {}) == expected
    assert manifest == before


def test_only_dns_resolution_remediates() -> None:
    assert {r.name for r in RESOURCE_RULES if r.remediate} == {DNS}


REMEDIATED = [
    pytest.param(dns_resolution.RULE, service_entry(), service_entry(resolution="DNS"), id="dns"),
    pytest.param(dns_resolution.RULE, service_entry(resolution="DNS"), None, id="nothing-to-fix"),
    pytest.param(export_scope.RULE, destination_rule(workloadSelector=GATEWAY_PODS), None, id="export-no-finding"),
    pytest.param(export_scope.RULE, destination_rule(), None, id="export-not-certain"),
]


@pytest.mark.parametrize(("rule", "manifest", "expected"), REMEDIATED)
def test_rule_remediated(rule: Any, manifest: dict[str, Any], expected: dict[str, Any] | None) -> None:
    assert rule.remediated(manifest, {}) == expected


# -- enforcement levels in the config --------------------------------------------------------------

SCHEMAS: dict[str, dict[str, Any] | None] = {EXPORT: None, DNS: None, "allowed-hosts": None}
REMEDIATING = {DNS}
LEVELS = [
    ({DNS: {"enforcementLevel": "remediate"}}, []),
    ({EXPORT: "remediate"},
     ["policy pack config: export-to-scoped: enforcementLevel 'remediate': export-to-scoped has no remediation, so "
      "pulumi-policy would treat it as mandatory; the policies that remediate are "
      "dns-resolution-for-external-hosts"]),
    ({"allowed-hosts": "remediate"},
     ["policy pack config: allowed-hosts: enforcementLevel 'remediate': allowed-hosts has no remediation, so "
      "pulumi-policy would treat it as mandatory; the policies that remediate are "
      "dns-resolution-for-external-hosts"]),
    ({"all": "remediate"},
     ["policy pack config: all: enforcementLevel 'remediate' would make every policy that cannot remediate "
      "mandatory, advisory ones too; set it on the policies that remediate instead: "
      "dns-resolution-for-external-hosts"]),
    ({EXPORT: "remediated"},
     ["policy pack config: export-to-scoped: enforcementLevel 'remediated' is not a level; did you mean 'remediate'?"]),
    ({"all": {"enforcementLevel": "mandatroy"}},
     ["policy pack config: all: enforcementLevel 'mandatroy' is not a level; did you mean 'mandatory'?"]),
]


@pytest.mark.parametrize(("config", "problems"), LEVELS)
def test_config_levels(config: dict[str, Any], problems: list[str]) -> None:
    assert config_typos(config, SCHEMAS, REMEDIATING) == problems


def test_remediate_anywhere_is_fine_when_the_pack_is_not_known() -> None:
    assert config_typos({"allowed-hosts": "remediate", "all": "remediate"}, SCHEMAS) == []


# -- the pack over gRPC (Remediate, as the Pulumi CLI calls it before Analyze) -------------------------


@pytest.fixture(scope="module")
def pack() -> Any:
    with PolicyPackProcess(PACK) as process:
        yield process


def _configured(pack: PolicyPackProcess, config: dict[str, Any] | None) -> None:
    pack.configure(reconcile_config(pack.info, config))


def _resource(manifest: dict[str, Any]) -> Resource:
    return Resource.from_manifest(manifest)


def _wire(manifest: dict[str, Any]) -> dict[str, Any]:
    """What comes back over the wire: numbers as doubles."""
    fixed = copy.deepcopy(manifest)
    for port in fixed["spec"].get("ports", []):
        port["number"] = float(port["number"])
    return fixed


ENABLED = {DNS: "remediate"}
GRPC = [
    pytest.param(ENABLED, service_entry(), _wire(service_entry(resolution="DNS")), id="dns-enabled"),
    pytest.param(ENABLED, destination_rule(workloadSelector=GATEWAY_PODS),
                 destination_rule(workloadSelector=GATEWAY_PODS), id="selector-rule-untouched"),
    pytest.param(None, service_entry(), service_entry(), id="off-by-default"),
    pytest.param({DNS: "mandatory"}, service_entry(), service_entry(), id="mandatory-does-not-remediate"),
    pytest.param(ENABLED, destination_rule(), destination_rule(), id="enabled-but-not-certain"),
]


@pytest.mark.parametrize(("config", "manifest", "expected"), GRPC)
def test_remediate_over_grpc(pack: PolicyPackProcess, config: dict[str, Any] | None, manifest: dict[str, Any],
                             expected: dict[str, Any]) -> None:
    _configured(pack, config)
    resource = _resource(manifest)
    remediated, diagnostics = pack.remediate(resource)
    assert (remediated.props, diagnostics) == (expected if expected != manifest else resource.props, [])


def test_a_remediated_finding_is_gone_and_an_unremediated_one_stays(pack: PolicyPackProcess) -> None:
    def findings(config: dict[str, Any] | None) -> list[tuple[str, str]]:
        _configured(pack, config)
        return [(v.policy_name, v.enforcement_level) for v in pack.analyze(_resource(service_entry()))]

    assert findings(None) == [(DNS, "mandatory")]
    assert findings({DNS: "remediate"}) == []


def test_an_exempt_object_is_not_remediated(pack: PolicyPackProcess) -> None:
    manifest = service_entry()
    manifest["metadata"]["annotations"] = {EXEMPT_ANNOTATION: f"{DNS}: resolved by the partner's proxy, SEC-9"}
    _configured(pack, ENABLED)
    remediated, _ = pack.remediate(_resource(manifest))
    assert remediated.props == manifest


def test_secrets_stay_secret_through_a_remediation(pack: PolicyPackProcess) -> None:
    manifest = service_entry()
    manifest["metadata"]["annotations"] = {"token": Secret("s3cr3t")}
    _configured(pack, ENABLED)
    remediated, _ = pack.remediate(_resource(manifest))
    assert remediated.props["metadata"]["annotations"] == {"token": Secret("s3cr3t")}
    assert remediated.props["spec"]["resolution"] == "DNS"


def test_no_remediation_on_values_unknown_during_preview(pack: PolicyPackProcess) -> None:
    manifest = service_entry(ports=UNKNOWN)
    _configured(pack, ENABLED)
    remediated, diagnostics = pack.remediate(_resource(manifest))
    assert remediated.props == _resource(manifest).props
    assert [(v.policy_name, v.enforcement_level, v.message) for v in diagnostics] == [
        (DNS, "advisory", "can't run remediation 'dns-resolution-for-external-hosts' from policy pack "
                          "'istio-egress@v0.0.1' during preview: string value at .spec.ports can't be known during "
                          "preview"),
    ]
