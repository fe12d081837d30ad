"""gateway-authorization-keeps-routes as a table: a stack plus a user's AuthorizationPolicy -> every finding.

The stacks are EgressRoute's own PASSTHROUGH (api.stripe.com, TCP chain at the gateway) and SIMPLE
origination (api.github.com, HTTP chain) routes on one gateway, or Istio's mTLS-origination layout
(Gateway object in default, pods in istio-system); each policy is a small file under fixtures/authz.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_istio_egress.findings import Manifest, object_ref
from pulumi_istio_egress.policies import STACK_RULES, gateway_authorization

FIXTURES = Path(__file__).parent / "fixtures"
ROUTES = sorted((FIXTURES / "routes").glob("*.yaml"))


def route_stack(path: Path) -> list[Manifest]:
    return [entry["manifest"] for entry in yaml.safe_load(path.read_text())["expected"]]


TWO_ROUTES = route_stack(FIXTURES / "routes" / "passthrough.yaml") + route_stack(
    FIXTURES / "routes" / "simple-origination.yaml")
DOCS_LAYOUT = list(yaml.safe_load_all((FIXTURES / "stacks" / "mtls-origination-docs-layout.yaml").read_text()))
LEAD = ("this ALLOW policy applies to the egress gateway pods in istio-system, so they deny every request no ALLOW "
        "rule matches, and its rules do not allow ")
STRIPE = "api.stripe.com:443 (TLS passthrough, Gateway istio-system/egress-api-stripe-com)"
GITHUB = "api.github.com:80 (HTTP, Gateway istio-system/egress-api-github-com)"
NGINX = "my-nginx.mesh-external.svc.cluster.local"
FIX = gateway_authorization.FIX


def policy(name: str) -> list[Any]:
    return list(yaml.safe_load_all((FIXTURES / "authz" / f"{name}.yaml").read_text()))


def judge(manifests: list[Any], config: dict[str, Any] | None = None) -> list[tuple[str, str, Any, str, str]]:
    found = gateway_authorization.RULE.check(manifests, {**gateway_authorization.RULE.defaults(), **(config or {})})
    return [(object_ref(m), f.path, f.value, f.message, f.fix) for m, f in found]


CASES: list[tuple[str, list[Any], dict[str, Any], list[tuple[str, str, Any, str, str]]]] = [
    # pilot/pkg/security/authz/model: hostGenerator errors on TCP, checkError keeps it for ALLOW.
    ("hosts-on-passthrough", TWO_ROUTES, {}, [
        ("AuthorizationPolicy istio-system/allow-ci-to-github", "spec.rules[0].to[0].operation.hosts",
         ["api.github.com", "api.github.com:*"],
         LEAD + STRIPE + ": on its TCP filter chain istiod skips a rule with an HTTP-only field (hosts)", FIX)]),
    ("sni-for-every-route", TWO_ROUTES, {}, []),
    # matcher.HostMatcher compares the whole :authority: `h` does not match `h:80`.
    ("hosts-without-port", TWO_ROUTES, {}, [
        ("AuthorizationPolicy istio-system/allow-github", "spec.rules",
         [{"to": [{"operation": {"hosts": ["api.github.com"]}}]},
          {"when": [{"key": "connection.sni", "values": ["api.stripe.com"]}]}],
         LEAD + GITHUB + ": its hosts do not match the Host api.github.com:80 that clients naming the port send, so "
         "those requests are denied; its connection.sni values do not match api.github.com", FIX)]),
    # WorkloadPolicyMatcher.isSelected: matchLabels must be a subset of the pods' labels.
    ("other-pods", TWO_ROUTES, {}, []),
    ("unknown-label", TWO_ROUTES, {}, []),
    # Builder.build: a policy without rules gets rbacPolicyMatchNever.
    ("allow-nothing", TWO_ROUTES, {}, [
        ("AuthorizationPolicy istio-system/allow-nothing", "spec.rules", None,
         LEAD + STRIPE + ": it has no rules, so it allows nothing; " + GITHUB + ": it has no rules, so it allows "
         "nothing", FIX)]),
    ("dry-run", TWO_ROUTES, {}, []),
    # ShouldAttachPolicy: a workload that is not a Gateway API gateway ignores targetRefs policies.
    ("target-refs", TWO_ROUTES, {}, []),
    ("deny-and-custom", TWO_ROUTES, {}, []),
    ("two-policies", TWO_ROUTES, {}, []),
    # ListAuthorizationPolicies looks in the root namespace and the pods' namespace.
    ("root-namespace", TWO_ROUTES, {"rootNamespace": "istio-config"}, [
        ("AuthorizationPolicy istio-config/mesh-wide", "spec.rules[0].from[0].source.requestPrincipals", ["*"],
         LEAD + STRIPE + ": on its TCP filter chain istiod skips a rule with an HTTP-only field (requestPrincipals)",
         FIX)]),
    ("root-namespace", TWO_ROUTES, {}, []),  # istio-config is not the root namespace: applies nowhere here
    ("gateway-object-namespace", DOCS_LAYOUT, {}, []),
    ("pods-namespace", DOCS_LAYOUT, {}, [
        ("AuthorizationPolicy istio-system/other-host-only", "spec.rules[0].to[0].operation.hosts",
         ["other.example.com"],
         LEAD + f"{NGINX}:443 (HTTP, Gateway default/istio-egressgateway): its hosts match no Host the apps send "
         f"({NGINX}, {NGINX}:80)", FIX)]),
]


@pytest.mark.parametrize(("name", "base", "config", "expected"), CASES,
                         ids=[f"{c[0]}{'-' + str(c[2]) if c[2] else ''}" for c in CASES])
def test_policy_on_a_shared_gateway(name: str, base: list[Any], config: dict[str, Any],
                                    expected: list[tuple[str, str, Any, str, str]]) -> None:
    assert judge(base + policy(name), config) == expected


def test_every_policy_fixture_is_a_case_and_says_what_it_shows() -> None:
    assert sorted({c[0] for c in CASES}) == sorted(p.stem for p in (FIXTURES / "authz").glob("*.yaml"))
    for path in (FIXTURES / "authz").glob("*.yaml"):
        assert path.read_text().startswith("# "), path.name


def test_every_pattern_mixed_on_one_gateway_passes_with_its_own_policies() -> None:
    # EgressRoute's DENY policies (authorization_policy=True) never turn unmatched requests into denials.
    every = [m for path in ROUTES for m in route_stack(path)]
    assert any(m["kind"] == "AuthorizationPolicy" for m in every)
    assert judge(every) == []


def test_registered_mandatory_with_the_root_namespace_option() -> None:
    rule = gateway_authorization.RULE
    assert rule in STACK_RULES
    assert (rule.severity, rule.enforcement) == ("high", "mandatory")
    assert rule.defaults() == {"rootNamespace": "istio-system"}


@pytest.mark.parametrize("manifests", [None, 42, "x", {"kind": "AuthorizationPolicy"}, [], [None, [], 7],
                                       [{"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
                                         "spec": {"rules": [None, {"to": "x", "when": [{"key": 5}]}]}}]])
def test_inputs_that_are_not_stacks_give_no_findings(manifests: Any) -> None:
    assert judge(manifests) == []


_JUNK = st.recursive(st.none() | st.booleans() | st.integers(-1, 70000) | st.sampled_from([
    "ALLOW", "DENY", "CUSTOM", "", "*", "connection.sni", "request.headers[x]", "hosts", "istio", "egressgateway",
    "api.stripe.com", "api.github.com", "istio-system", "true"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([
        "action", "rules", "selector", "matchLabels", "istio", "to", "from", "when", "operation", "source", "hosts",
        "key", "values", "notValues", "targetRefs", "paths", "requestPrincipals"]), inner, max_size=4),
    max_leaves=25)


@settings(max_examples=100, deadline=None)
@given(specs=st.lists(_JUNK, max_size=4))
def test_junk_policies_on_real_routes_never_raise(specs: list[Any]) -> None:
    junk = [{"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
             "metadata": {"name": f"p{i}", "namespace": "istio-system"}, "spec": s} for i, s in enumerate(specs)]
    for _, _, _, message, _ in judge(TWO_ROUTES + junk):
        assert message.startswith(LEAD)
