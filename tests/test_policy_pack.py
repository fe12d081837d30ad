"""The istio-egress pack end to end, as the Pulumi CLI drives it: a pack subprocess over gRPC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.analyzer import UNKNOWN, PolicyPackProcess, Resource, Violation, run_pack
from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES
from pulumi_istio_egress.policies.pack import COVERAGE

ROOT = Path(__file__).parents[1]
PACK = ROOT / "policy"
FIXTURES = Path(__file__).parent / "fixtures"
CORE_PATTERNS = ("passthrough", "simple-origination", "simple-termination", "mutual")


def route(name: str) -> list[dict[str, Any]]:
    return [e["manifest"] for e in yaml.safe_load((FIXTURES / "routes" / f"{name}.yaml").read_text())["expected"]]


def manifests(path: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((FIXTURES / path).read_text()) if d]


def judged(violations: list[Violation]) -> list[tuple[str, str, str, str]]:
    """(policy, level, object, reported message) — the description line the pack prepends dropped."""
    return [(v.policy_name, v.enforcement_level, v.urn.rsplit("::", 1)[-1], v.message.split("\n", 1)[-1])
            for v in violations]


def test_pack_reports_every_rule_with_its_default_level() -> None:
    with PolicyPackProcess(PACK) as pack:
        got = {(p.name, p.enforcement_level) for p in pack.info.policies}
    assert pack.info.name == "istio-egress"
    assert got == {(r.name, r.enforcement) for r in (*RESOURCE_RULES, *STACK_RULES)} | {(COVERAGE, "advisory")}


@pytest.mark.parametrize("pattern", CORE_PATTERNS)
def test_each_pattern_passes_every_policy_with_default_config(pattern: str) -> None:
    assert run_pack(PACK, [Resource.from_manifest(m) for m in route(pattern)]) == []


def test_all_routes_together_pass_with_their_ports_allowed() -> None:
    every = [m for p in sorted((FIXTURES / "routes").glob("*.yaml")) for m in route(p.stem)]
    config = {"allowed-ports": {"allowedPorts": [80, 443, 8080, 8443]},
              "audited-hosts-require-simple": {"auditedHosts": ["api.github.com", "*.bank.example"]}}
    assert run_pack(PACK, [Resource.from_manifest(m) for m in every], config) == []


VIA = ("Every MESH_EXTERNAL ServiceEntry host is routed mesh -> egress gateway -> host, visible to every client "
       "namespace; otherwise sidecars bypass the gateway and its audit.")

CASES = [
    ("audited host through PASSTHROUGH", route("passthrough"),
     {"audited-hosts-require-simple": {"auditedHosts": ["api.stripe.com"]}}, [
         ("audited-hosts-require-simple", "mandatory", "istio-system/egress-api-stripe-com",
          "spec.servers[0].tls.mode: the gateway passes TLS for audited host api.stripe.com through uninspected "
          "(got 'PASSTHROUGH'). Fix: let the gateway interpret TLS: EgressRoute tls_mode SIMPLE (origination), or "
          "a SIMPLE server with a credentialName to terminate"),
         ("audited-hosts-require-simple", "mandatory", "istio-system/egress-api-stripe-com",
          "spec.tls[1].match[0]: a gateway routes audited host api.stripe.com by SNI, passing its TLS through. "
          "Fix: route it with an http route after the gateway originates or terminates TLS (EgressRoute tls_mode "
          "SIMPLE)"),
     ]),
    # Without an allowedPorts list the rule does not apply, as allowedHosts (issue 9).
    ("custom ports, no allowedPorts configured", route("custom-gateway"), None, []),
    ("the blog recipe: SIMPLE gateway, no VirtualService", manifests("manifests/blog-recipe.yaml"), None, [
        ("istio-valid", "mandatory", "istio-system/stripe-egress",
         "spec.servers[0].tls.serverCertificate: SIMPLE TLS requires a server certificate. Fix: Set credentialName "
         "to the Secret with the server certificate and key (in the gateway's namespace), or set serverCertificate "
         "and privateKey"),
        ("istio-valid", "mandatory", "istio-system/stripe-egress",
         "spec.servers[0].tls.privateKey: SIMPLE TLS requires a private key. Fix: Set credentialName to the Secret "
         "with the server certificate and key (in the gateway's namespace), or set serverCertificate and "
         "privateKey"),
        ("egress-via-gateway", "mandatory", "payments/stripe",
         "spec.hosts[0]: no VirtualService bound to mesh routes api.stripe.com to the "
         "egress gateway, so sidecars send it straight to the host and bypass the gateway (its policy and audit do "
         "not apply) (got 'api.stripe.com'). Fix: add a VirtualService for api.stripe.com bound to mesh whose route "
         "sends it to the egress gateway Service and subset, with a DestinationRule defining the subset "
         "(EgressRoute emits both)"),
        ("egress-via-gateway", "mandatory", "payments/stripe",
         "spec.hosts[0]: no VirtualService bound to Gateway istio-system/stripe-egress "
         "routes api.stripe.com on to the host, so the gateway accepts the connection but has no route for it (got "
         "'api.stripe.com'). Fix: add a VirtualService for api.stripe.com bound to Gateway "
         "istio-system/stripe-egress whose route's destination host is api.stripe.com"),
        # No mesh route says where the gateway runs (a Gateway object's namespace does not), so
        # egress-visibility does not judge where the originating DestinationRule lives.
    ]),
]


@pytest.mark.parametrize(("objects", "config", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_violations(objects: list[dict[str, Any]], config: dict[str, Any] | None,
                    expected: list[tuple[str, str, str, str]]) -> None:
    assert judged(run_pack(PACK, [Resource.from_manifest(m) for m in objects], config)) == expected


def test_unknown_values_in_preview_are_judged_where_possible_and_said_otherwise() -> None:
    entry = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
             "metadata": {"name": "later", "namespace": "payments"},
             "spec": {"hosts": [UNKNOWN], "ports": [{"number": 8443, "name": "tls", "protocol": "TLS"}],
                      "resolution": "DNS", "exportTo": ["."]}}
    got = judged(run_pack(PACK, [Resource.from_manifest(entry)], {"allowed-ports": {"allowedPorts": [80, 443]}}))
    cannot = [(name, "advisory", "payments/later",
               f"can't run policy '{name}' from policy pack 'istio-egress@v0.0.1' during preview: "
               "string value at .spec.hosts.0 can't be known during preview")
              for name in (r.name for r in (*RESOURCE_RULES, *STACK_RULES))]
    allowed_ports = ("allowed-ports", "mandatory", "payments/later",
                     "spec.ports[0].number: the port is not in allowedPorts (got 8443). Fix: use one of [80, 443], "
                     "or have it added to allowedPorts")
    index = [c[0] for c in cannot].index("allowed-ports")
    stack_urn = "project-stack"
    expected = [*cannot[:index], allowed_ports, *cannot[index:]]
    expected = [e if e[0] not in {r.name for r in STACK_RULES} else (e[0], e[1], stack_urn, e[3]) for e in expected]
    assert got == expected


def test_without_crds_the_pack_says_once_that_the_schema_layer_did_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISTIO_CRDS", raising=False)
    got = judged(run_pack(PACK, [Resource.from_manifest(m) for m in route("passthrough")]))
    assert got == [(COVERAGE, "advisory", "project-stack",
                    "istio-valid judged 5 object(s) with istiod's webhook rules only: no Istio CRDs were configured, "
                    "so the CRD schema and CEL layer did not run. Fix: set istio-valid's crdFiles (e.g. the output "
                    "of `kubectl get crd -o yaml`) or $ISTIO_CRDS")]
