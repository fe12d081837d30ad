"""The istio-egress pack end to end, as the Pulumi CLI drives it: a pack subprocess over gRPC."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import ResourceValidationArgs
from pulumi_policy.proxy import unknown_checking_proxy

from pulumi_istio_egress import lockdown_manifests, parse_lockdown
from pulumi_istio_egress.cli.pack_client import UNKNOWN, PolicyPackProcess, Resource, Violation, run_pack
from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES, pack, sdk
from pulumi_istio_egress.policies.pack import ADVISORIES, EXEMPT_ANNOTATION
from pulumi_istio_egress.policies.rule import DOCS_URL

ROOT = Path(__file__).parents[1]
PACK = ROOT / "policy"
FIXTURES = Path(__file__).parent / "fixtures"
CORE_PATTERNS = ("passthrough", "simple-origination", "simple-termination", "mutual")


def route(name: str) -> list[dict[str, Any]]:
    return [e["manifest"] for e in yaml.safe_load((FIXTURES / "routes" / f"{name}.yaml").read_text())["expected"]]


def locked(name: str) -> list[dict[str, Any]]:
    """A route's objects plus the EgressLockdown of each of its client namespaces: the whole recommended setup."""
    args = yaml.safe_load((FIXTURES / "routes" / f"{name}.yaml").read_text())["args"]
    gateway = {"gateway_namespace": args["gateway_namespace"]} if "gateway_namespace" in args else {}
    return route(name) + [m for ns in args["client_namespaces"]
                          for m in lockdown_manifests(parse_lockdown({"namespace": ns, **gateway}))]


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
    assert got == {(r.name, r.enforcement) for r in (*RESOURCE_RULES, *STACK_RULES)} | {(ADVISORIES, "advisory")}


@pytest.mark.parametrize("pattern", CORE_PATTERNS)
def test_each_pattern_passes_every_policy_with_default_config(pattern: str) -> None:
    assert run_pack(PACK, [Resource.from_manifest(m) for m in locked(pattern)]) == []


def test_all_routes_together_pass_with_their_ports_allowed() -> None:
    every = [m for p in sorted((FIXTURES / "routes").glob("*.yaml")) for m in locked(p.stem)]
    config = {"allowed-ports": {"allowedPorts": [80, 443, 8080, 8443]},
              "audited-hosts-require-simple": {"auditedHosts": ["api.github.com", "*.bank.example"]}}
    assert run_pack(PACK, [Resource.from_manifest(m) for m in every], config) == []


VIA = ("Every MESH_EXTERNAL ServiceEntry host is routed mesh -> egress gateway -> host, visible to every client "
       "namespace; otherwise sidecars bypass the gateway and its audit.")

CASES = [
    ("audited host through PASSTHROUGH", locked("passthrough"),
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
    ("custom ports, no allowedPorts configured", locked("custom-gateway"), None, []),
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
        ("egress-lockdown", "advisory", "payments/stripe",
         "spec.exportTo[0]: namespace payments uses egress routes (api.stripe.com), but no NetworkPolicy there "
         "restricts the egress of all its pods (podSelector {} with Egress in policyTypes), so a pod can open a "
         "socket to any address and bypass the egress gateway (got 'payments'). Fix: declare "
         "EgressLockdown(namespace='payments'), or apply its YAML (`pulumi-istio-egress render`): a NetworkPolicy "
         "in payments with podSelector {}, policyTypes [Egress] and egress rules only for DNS, in-cluster pods and "
         "the CIDRs the pods must reach"),
        ("egress-lockdown", "advisory", "payments/stripe",
         "spec.exportTo[0]: namespace payments uses egress routes (api.stripe.com), but its sidecars are not "
         "REGISTRY_ONLY: no Sidecar without workloadSelector in payments or in the root namespace istio-system, and "
         "the mesh's outboundTrafficPolicy is ALLOW_ANY, so sidecars pass hosts the mesh does not know straight out "
         "(got 'payments'). Fix: declare EgressLockdown(namespace='payments'), or apply its YAML "
         "(`pulumi-istio-egress render`): a Sidecar in payments without workloadSelector, with "
         "outboundTrafficPolicy {mode: REGISTRY_ONLY} and egress hosts importing the gateway's namespace"),
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
              # allowed-hosts has no list and gateway-api-valid reads no Istio kinds: not applicable,
              # they read nothing.
              for name in (r.name for r in (*RESOURCE_RULES, *STACK_RULES))
              if name not in ("allowed-hosts", "gateway-api-valid")]
    allowed_ports = ("allowed-ports", "mandatory", "payments/later",
                     "spec.ports[0].number: the port is not in allowedPorts (got 8443). Fix: use one of [80, 443], "
                     "or have it added to allowedPorts")
    index = [c[0] for c in cannot].index("allowed-ports")
    stack_urn = "project-stack"
    expected = [*cannot[:index], allowed_ports, *cannot[index:]]
    expected = [e if e[0] not in {r.name for r in STACK_RULES} else (e[0], e[1], stack_urn, e[3]) for e in expected]
    # egress-lockdown judges the namespace the entry is exported to, which does not depend on the unknown host.
    lockdown = [("egress-lockdown", "advisory", "payments/later",
                 "spec.exportTo[0]: namespace payments uses egress routes (hosts not known yet), but no NetworkPolicy "
                 "there restricts the egress of all its pods (podSelector {} with Egress in policyTypes), so a pod can "
                 "open a socket to any address and bypass the egress gateway (got 'payments'). Fix: declare "
                 "EgressLockdown(namespace='payments'), or apply its YAML (`pulumi-istio-egress render`): a "
                 "NetworkPolicy in payments with podSelector {}, policyTypes [Egress] and egress rules only for DNS, "
                 "in-cluster pods and the CIDRs the pods must reach"),
                ("egress-lockdown", "advisory", "payments/later",
                 "spec.exportTo[0]: namespace payments uses egress routes (hosts not known yet), but its sidecars are "
                 "not REGISTRY_ONLY: no Sidecar without workloadSelector in payments or in the root namespace "
                 "istio-system, and the mesh's outboundTrafficPolicy is ALLOW_ANY, so sidecars pass hosts the mesh "
                 "does not know straight out (got 'payments'). Fix: declare EgressLockdown(namespace='payments'), or "
                 "apply its YAML (`pulumi-istio-egress render`): a Sidecar in payments without workloadSelector, with "
                 "outboundTrafficPolicy {mode: REGISTRY_ONLY} and egress hosts importing the gateway's namespace")]
    at = [e[0] for e in expected].index("egress-lockdown")
    expected = [*expected[:at], *lockdown, *expected[at:]]
    assert got == expected


def test_without_crds_the_pack_says_once_that_the_schema_layer_did_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISTIO_CRDS", raising=False)
    got = judged(run_pack(PACK, [Resource.from_manifest(m) for m in locked("passthrough")]))
    assert got == [(ADVISORIES, "advisory", "project-stack",
                    "istio-valid judged 6 object(s) with istiod's webhook rules only: no Istio CRDs were configured, "
                    "so the CRD schema and CEL layer did not run. Fix: set istio-valid's crdFiles (e.g. the output "
                    "of `kubectl get crd -o yaml`) or $ISTIO_CRDS")]


def _exempt(manifest: dict[str, Any], text: str) -> dict[str, Any]:
    exempted = copy.deepcopy(manifest)
    exempted["metadata"].setdefault("annotations", {})[EXEMPT_ANNOTATION] = text
    return exempted


WILDCARD = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
            "metadata": {"name": "wild", "namespace": "istio-system"},
            "spec": {"hosts": ["*.example.com"], "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}],
                     "location": "MESH_EXTERNAL", "resolution": "NONE", "exportTo": ["."]}}
WILDCARD_FINDING = ("spec.hosts[0]: wildcard hosts allow egress to any name they cover (got '*.example.com'). "
                    "Fix: list the concrete hosts, or add this pattern to allowedWildcards")
BLOG = manifests("manifests/blog-recipe.yaml")
BLOG_ENTRY = next(m for m in BLOG if m["kind"] == "ServiceEntry")


@pytest.mark.parametrize(("objects", "expected"), [
    pytest.param([_exempt(WILDCARD, "no-wildcard-hosts: a partner CDN, ticket SEC-12")], [
        (ADVISORIES, "advisory", "istio-system/wild",
         f"no-wildcard-hosts (exempt: a partner CDN, ticket SEC-12): {WILDCARD_FINDING}")], id="resource rule"),
    pytest.param([_exempt(WILDCARD, "no-wildcard-hosts:\nallowed-hosts: not needed")], [
        ("no-wildcard-hosts", "mandatory", "istio-system/wild", WILDCARD_FINDING)], id="no reason, no exemption"),
    pytest.param([_exempt(WILDCARD, "egress-via-gateway: another policy")], [
        ("no-wildcard-hosts", "mandatory", "istio-system/wild", WILDCARD_FINDING)], id="other policy"),
])
def test_exemption_annotation_turns_a_finding_into_an_advisory(objects: list[dict[str, Any]],
                                                                expected: list[tuple[str, str, str, str]]) -> None:
    got = [v for v in judged(run_pack(PACK, [Resource.from_manifest(m) for m in objects]))
           if v[0] == "no-wildcard-hosts" or v[3].startswith("no-wildcard-hosts (exempt")]
    assert got == expected


def test_exemption_of_a_stack_rule_is_an_advisory_on_the_object() -> None:
    plain = judged(run_pack(PACK, [Resource.from_manifest(m) for m in BLOG]))
    via = [v for v in plain if v[0] == "egress-via-gateway"]
    assert len(via) == 2
    exempted = [_exempt(m, "egress-via-gateway: migrating, SEC-7") if m is BLOG_ENTRY else m for m in BLOG]
    got = judged(run_pack(PACK, [Resource.from_manifest(m) for m in exempted]))
    assert [v for v in got if v[0] == "egress-via-gateway"] == []
    assert [v for v in got if v[0] == ADVISORIES] == [
        (ADVISORIES, "advisory", v[2], f"egress-via-gateway (exempt: migrating, SEC-7): {v[3]}") for v in via]
    assert [v for v in got if v[0] not in ("egress-via-gateway", ADVISORIES)] == [
        v for v in plain if v[0] != "egress-via-gateway"]


@pytest.mark.parametrize(("rule", "manifest", "config", "reason"), [
    ("allowed-hosts", WILDCARD, {}, "allowedHosts is not configured: every host is allowed"),
    ("allowed-hosts", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, {"allowedHosts": []},
     "not a MESH_EXTERNAL ServiceEntry"),
    ("allowed-ports", WILDCARD, {}, "allowedPorts is not configured: every port is allowed"),
    ("allowed-ports", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, {"allowedPorts": []},
     "not a MESH_EXTERNAL ServiceEntry"),
    ("istio-valid", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, {},
     "istio-valid judges only ServiceEntry, Gateway, DestinationRule, VirtualService, Sidecar, AuthorizationPolicy"),
])
def test_rules_with_nothing_to_judge_say_not_applicable(rule: str, manifest: dict[str, Any], config: dict[str, Any],
                                                        reason: str) -> None:
    policy = next(p for p in pack.policies() if p.name == rule)
    args = ResourceValidationArgs(f"kubernetes:{manifest['apiVersion']}:{manifest['kind']}",
                                  unknown_checking_proxy(copy.deepcopy(manifest)), "urn", "name", None, None, config)
    with pytest.raises(sdk.NotApplicableError) as raised:
        policy.validate(args, lambda message, urn=None: pytest.fail(message))
    assert raised.value.reason == reason


def test_every_policy_links_its_documentation() -> None:
    made = pack.policies()
    assert [p.url for p in made] == [f"{DOCS_URL}#{p.name}" for p in made]
