"""The ambient-only stack rules: waypoint-binding-resolves and waypoint-policy-targets.

Istio's documented ambient egress config (fixtures/istio-docs/ambient, written out in our own words
with the verdict Istio's semantics give) passes; each broken variant gets exactly its findings.
EgressRoute's own ambient objects pass, alone and sharing a waypoint.
"""

from __future__ import annotations

import copy
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from mocking import run

from pulumi_istio_egress import Dataplane, EgressRoute, TlsMode
from pulumi_istio_egress.cli.pack_client import Resource, run_pack
from pulumi_istio_egress.findings import Finding, Manifest, object_ref
from pulumi_istio_egress.policies import STACK_RULES, waypoint_binding, waypoint_policies

FIXTURES = Path(__file__).parent / "fixtures"
DOCS = FIXTURES / "istio-docs" / "ambient"
PACK = Path(__file__).parents[1] / "policy"
MODULES: dict[str, ModuleType] = {m.RULE.name: m for m in (waypoint_binding, waypoint_policies)}
Row = tuple[str, str, Any, str, str]
BYPASS = "so its traffic goes straight to the destination, past the waypoint and its policies"


def docs(name: str) -> list[Manifest]:
    return [d for d in yaml.safe_load_all((DOCS / f"{name}.yaml").read_text()) if d]


def judge(rule: str, manifests: list[Manifest], config: dict[str, Any] | None = None) -> list[Row]:
    rows = []
    for manifest, finding in MODULES[rule].RULE.check(manifests, config or {}):
        assert isinstance(finding, Finding)
        rows.append((object_ref(manifest), finding.path, finding.value, finding.message, finding.fix))
    return rows


def test_rule_metadata_and_registration() -> None:
    got = {name: (m.RULE.severity, m.RULE.enforcement, m.RULE.defaults(), list(m.RULE.config_schema))
           for name, m in MODULES.items()}
    assert got == {
        "waypoint-binding-resolves": ("high", "mandatory", {}, ["externalWaypoints"]),
        "waypoint-policy-targets": ("high", "mandatory", {}, []),
    }
    assert [r for r in STACK_RULES if r.name in MODULES] == [waypoint_binding.RULE, waypoint_policies.RULE]


SELECTOR_FIX = ("replace the selector with targetRefs: [{group: networking.istio.io, kind: ServiceEntry, name: "
                "httpbin-org}] in namespace istio-egress, one entry per ServiceEntry (or target the waypoint Gateway)")
UNENFORCED = ("but it has no targetRefs: waypoints ignore selector and namespace-wide policies, and ztunnel has no "
              "destination workload to enforce it at, so it is enforced nowhere")
WORKLOAD_ONLY = ("its namespace's istio.io/use-waypoint names the waypoint istio-egress/waypoint, which takes no "
                 "service traffic (istio.io/waypoint-for: workload): istiod does not bind this ServiceEntry to it, "
                 f"{BYPASS}")
WORKLOAD_FIX = ("label the waypoint istio.io/waypoint-for: service (or all), or give this ServiceEntry an "
                "istio.io/use-waypoint label naming a waypoint for services")

DOCUMENTED = [
    ("egress-waypoint", {"waypoint-binding-resolves": [], "waypoint-policy-targets": []}),
    ("egress-waypoint-missing", {
        "waypoint-binding-resolves": [(
            "Namespace default/istio-egress", 'metadata.labels["istio.io/use-waypoint"]', "waypoint",
            "it names the waypoint istio-egress/waypoint, which is no Gateway of this stack: istiod binds this "
            f"namespace's services to no waypoint, {BYPASS} (the label is intent only)",
            "create the waypoint (a gateway.networking.k8s.io/v1 Gateway waypoint in namespace istio-egress with "
            "gatewayClassName istio-waypoint; EgressRoute with dataplane AMBIENT makes one), correct the label, or "
            "list 'istio-egress/waypoint' in externalWaypoints if it is made outside this stack")],
        # The ServiceEntries are still bound by intent: what was meant for them is still judged.
        "waypoint-policy-targets": []}),
    ("egress-selector-policy", {
        "waypoint-binding-resolves": [],
        "waypoint-policy-targets": [(
            "AuthorizationPolicy istio-egress/httpbin-org", "spec.selector",
            {"matchLabels": {"gateway.networking.k8s.io/gateway-name": "waypoint"}},
            "it is meant for ServiceEntry istio-egress/httpbin-org (httpbin.org) bound to the waypoint "
            "istio-egress/waypoint, ServiceEntry istio-egress/example-com (example.com) bound to the waypoint "
            f"istio-egress/waypoint, {UNENFORCED}", SELECTOR_FIX)]}),
    ("egress-workload-waypoint", {
        "waypoint-binding-resolves": [
            ("ServiceEntry istio-egress/httpbin-org", "metadata.namespace", "istio-egress", WORKLOAD_ONLY,
             WORKLOAD_FIX),
            ("ServiceEntry istio-egress/example-com", "metadata.namespace", "istio-egress", WORKLOAD_ONLY,
             WORKLOAD_FIX)],
        "waypoint-policy-targets": []}),
    ("egress-policy-targets-service", {
        "waypoint-binding-resolves": [],
        "waypoint-policy-targets": [(
            "AuthorizationPolicy istio-egress/httpbin-org", "spec.targetRefs[0].kind", "Service",
            "it targets httpbin-org as a Kubernetes Service, but it is the ServiceEntry istio-egress/httpbin-org "
            "(httpbin.org) bound to the waypoint istio-egress/waypoint: the waypoint attaches the policy to no "
            "service, so it is enforced nowhere",
            "target it with group networking.istio.io, kind ServiceEntry")]}),
    ("egress-cross-namespace", {
        "waypoint-binding-resolves": [(
            "ServiceEntry team-a/httpbin-org", 'metadata.labels["istio.io/use-waypoint"]', "waypoint",
            "the waypoint istio-egress/waypoint admits only its own namespace "
            "(spec.listeners[0].allowedRoutes.namespaces.from: Same): istiod refuses to bind this ServiceEntry from "
            f"namespace team-a, {BYPASS}",
            "set allowedRoutes.namespaces.from: All (or a Selector matching team-a) on the waypoint's HBONE listener "
            "(port 15008), or use a waypoint in namespace team-a")],
        "waypoint-policy-targets": []}),
]


@pytest.mark.parametrize(("fixture", "expected"), DOCUMENTED, ids=[f for f, _ in DOCUMENTED])
def test_istio_documented_ambient_egress(fixture: str, expected: dict[str, list[Row]]) -> None:
    assert {rule: judge(rule, docs(fixture)) for rule in MODULES} == expected


def test_every_documented_fixture_is_judged() -> None:
    assert sorted(p.stem for p in DOCS.glob("*.yaml")) == sorted(f for f, _ in DOCUMENTED)


# --- small stacks, one fact each ------------------------------------------------------------------

WAYPOINT: Manifest = docs("egress-waypoint")[2]
ENTRY: Manifest = {
    "apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
    "metadata": {"name": "httpbin-org", "namespace": "istio-egress", "labels": {"istio.io/use-waypoint": "waypoint"}},
    "spec": {"hosts": ["httpbin.org"], "ports": [{"number": 80, "name": "http", "protocol": "HTTP"}],
             "resolution": "DNS"},
}


def policy(namespace: str = "istio-egress", **body: Any) -> Manifest:
    return {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "httpbin", "namespace": namespace}, "spec": {"action": "ALLOW", **body}}


def labelled(manifest: Manifest, **labels: str) -> Manifest:
    out = copy.deepcopy(manifest)
    out["metadata"]["labels"] = labels
    return out


HOSTS_RULE = [{"to": [{"operation": {"hosts": ["httpbin.org", "httpbin.org:*"]}}]}]
NAMESPACE_WIDE = ("AuthorizationPolicy istio-egress/httpbin", "spec.targetRefs", None,
                  "it is meant for ServiceEntry istio-egress/httpbin-org (httpbin.org) bound to the waypoint "
                  f"istio-egress/waypoint, {UNENFORCED}", SELECTOR_FIX)
MISSING = ("ServiceEntry istio-egress/httpbin-org", 'metadata.labels["istio.io/use-waypoint"]', "waypoint",
           "it names the waypoint istio-egress/waypoint, which is no Gateway of this stack: istiod binds this "
           f"ServiceEntry to no waypoint, {BYPASS} (the label is intent only)",
           "create the waypoint (a gateway.networking.k8s.io/v1 Gateway waypoint in namespace istio-egress with "
           "gatewayClassName istio-waypoint; EgressRoute with dataplane AMBIENT makes one), correct the label, or "
           "list 'istio-egress/waypoint' in externalWaypoints if it is made outside this stack")

CASES: list[tuple[str, str, list[Manifest], dict[str, Any] | None, list[Row]]] = [
    ("bound and present", "waypoint-binding-resolves", [WAYPOINT, ENTRY], None, []),
    ("waypoint missing", "waypoint-binding-resolves", [ENTRY], None, [MISSING]),
    ("waypoint made elsewhere", "waypoint-binding-resolves", [ENTRY],
     {"externalWaypoints": ["istio-egress/waypoint"]}, []),
    ("none opts out", "waypoint-binding-resolves", [labelled(ENTRY, **{"istio.io/use-waypoint": "none"})], None, []),
    ("a waypoint of that name in another namespace", "waypoint-binding-resolves",
     [{**WAYPOINT, "metadata": {**WAYPOINT["metadata"], "namespace": "default"}}, ENTRY], None, [MISSING]),
    ("workload-only waypoint named by the ServiceEntry", "waypoint-binding-resolves",
     [labelled(WAYPOINT, **{"istio.io/waypoint-for": "workload"}), ENTRY], None, [(
         "ServiceEntry istio-egress/httpbin-org", 'metadata.labels["istio.io/use-waypoint"]', "waypoint",
         "the waypoint istio-egress/waypoint takes no service traffic (istio.io/waypoint-for: workload): istiod does "
         f"not bind this ServiceEntry to it, {BYPASS}",
         "label the waypoint istio.io/waypoint-for: service (or all), or name a waypoint for services")]),
    ("waypoint-for all takes services", "waypoint-binding-resolves",
     [labelled(WAYPOINT, **{"istio.io/waypoint-for": "all"}), ENTRY], None, []),
    ("targetRefs to the ServiceEntry", "waypoint-policy-targets",
     [WAYPOINT, ENTRY, policy(targetRefs=[{"group": "networking.istio.io", "kind": "ServiceEntry",
                                           "name": "httpbin-org"}], rules=HOSTS_RULE)], None, []),
    ("targetRefs to the waypoint", "waypoint-policy-targets",
     [WAYPOINT, ENTRY, policy(targetRefs=[{"group": "gateway.networking.k8s.io", "kind": "Gateway",
                                           "name": "waypoint"}], rules=HOSTS_RULE)], None, []),
    ("namespace-wide policy naming the host", "waypoint-policy-targets",
     [WAYPOINT, ENTRY, policy(rules=HOSTS_RULE)], None, [NAMESPACE_WIDE]),
    ("selector policy naming the host in an unrelated namespace", "waypoint-policy-targets",
     [WAYPOINT, ENTRY, policy("istio-system", selector={"matchLabels": {"istio": "egressgateway"}},
                              rules=HOSTS_RULE)], None, []),
    ("selector policy for another host", "waypoint-policy-targets",
     [WAYPOINT, ENTRY, policy(selector={"matchLabels": {"app": "x"}},
                              rules=[{"to": [{"operation": {"hosts": ["example.com"]}}]}])], None, []),
    ("policy for a ServiceEntry bound to no waypoint", "waypoint-policy-targets",
     [labelled(ENTRY), policy(rules=HOSTS_RULE)], None, []),
    ("Service targetRef meaning a real Service", "waypoint-policy-targets",
     [WAYPOINT, ENTRY, {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "httpbin-org",
                                                                              "namespace": "istio-egress"}},
      policy(targetRefs=[{"kind": "Service", "group": "", "name": "httpbin-org"}])], None, []),
]


@pytest.mark.parametrize(("rule", "stack", "config", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_one_fact(rule: str, stack: list[Manifest], config: dict[str, Any] | None, expected: list[Row]) -> None:
    assert judge(rule, stack, config) == expected


@pytest.mark.parametrize("stack", [[None, 3, "x", {"kind": "Gateway"}, {"metadata": {"labels": "x"}}],
                                   [{**ENTRY, "metadata": {"labels": {"istio.io/use-waypoint": 5}}}]],
                         ids=["junk", "label not a string"])
def test_malformed_objects_are_skipped(stack: list[Any]) -> None:
    assert {rule: judge(rule, stack) for rule in MODULES} == {rule: [] for rule in MODULES}


# --- EgressRoute's own ambient objects ------------------------------------------------------------


def ambient_routes() -> list[Manifest]:
    return [e["manifest"] for p in sorted((FIXTURES / "ambient" / "routes").glob("*.yaml"))
            for e in yaml.safe_load(p.read_text())["expected"]]


def test_egress_route_ambient_objects_pass() -> None:
    # mutual-shared-waypoint names an existing waypoint, egress/waypoint, made outside the component.
    config = {"externalWaypoints": ["egress/waypoint"]}
    assert {rule: judge(rule, ambient_routes(), config) for rule in MODULES} == {rule: [] for rule in MODULES}


def test_routes_sharing_a_waypoint_pass() -> None:
    def program() -> None:
        EgressRoute("github", {"host": "api.github.com", "tls_mode": TlsMode.SIMPLE, "client_namespaces": ["ci"],
                               "dataplane": Dataplane.AMBIENT, "authorization_policy": True})
        EgressRoute("stripe", {"host": "api.stripe.com", "tls_mode": TlsMode.PASSTHROUGH,
                               "client_namespaces": ["payments"], "dataplane": Dataplane.AMBIENT,
                               "waypoint": "egress-api-github-com-waypoint", "authorization_policy": True})

    made = [r.inputs for r in run(program).resources if r.type.startswith("kubernetes:")]
    assert len(made) == 6
    assert {rule: judge(rule, made) for rule in MODULES} == {rule: [] for rule in MODULES}


def test_sidecar_routes_are_not_judged() -> None:
    sidecar = [e["manifest"] for p in sorted((FIXTURES / "routes").glob("*.yaml"))
               for e in yaml.safe_load(p.read_text())["expected"]]
    assert {rule: judge(rule, sidecar) for rule in MODULES} == {rule: [] for rule in MODULES}


def test_the_pack_reports_them_over_grpc() -> None:
    violations = run_pack(PACK, [Resource.from_manifest(m) for m in docs("egress-selector-policy")])
    ours = [(v.policy_name, v.enforcement_level, v.urn.rsplit("::", 1)[-1]) for v in violations
            if v.policy_name in MODULES]
    assert ours == [("waypoint-policy-targets", "mandatory", "istio-egress/httpbin-org")]
