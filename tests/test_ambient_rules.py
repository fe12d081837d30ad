"""The ambient-only stack rules: waypoint-binding-resolves and waypoint-policy-targets.

Istio's documented ambient egress config (fixtures/istio-docs/ambient, written out in our own words
with the verdict Istio's semantics give) passes; each broken variant gets exactly its findings.
EgressRoute's own ambient objects pass, alone and sharing a waypoint.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from mocking import run

from pulumi_istio_egress import Dataplane, EgressRoute, TlsMode
from pulumi_istio_egress.cli.pack_client import Resource, run_pack
from pulumi_istio_egress.findings import Finding, Manifest, object_ref
from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES, export_scope, waypoint_binding, waypoint_policies
from pulumi_istio_egress.policies.rule import ResourceRule, StackRule
from pulumi_istio_egress.policies.waypoints import AMBIENT_IGNORES_EXPORT_TO

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

def binding_row(obj: str, value: str, message: str, fix: str) -> Row:
    return (obj, 'metadata.labels["istio.io/use-waypoint"]', value, message, fix)


DOCUMENTED = [
    ("egress-waypoint", {"waypoint-binding-resolves": [], "waypoint-policy-targets": []}),
    ("egress-waypoint-missing", {
        "waypoint-binding-resolves": [binding_row(
            "Namespace default/istio-egress", "waypoint",
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
        "waypoint-binding-resolves": [binding_row(
            "ServiceEntry team-a/httpbin-org", "waypoint",
            "the waypoint istio-egress/waypoint admits only its own namespace "
            "(spec.listeners[0].allowedRoutes.namespaces.from: Same): istiod refuses to bind this ServiceEntry from "
            f"namespace team-a, {BYPASS}",
            "set allowedRoutes.namespaces.from: All (or a Selector matching team-a) on the waypoint's HBONE listener "
            "(port 15008), or use a waypoint in namespace team-a")],
        "waypoint-policy-targets": []}),
    ("egress-cross-namespace-selector", {
        "waypoint-binding-resolves": [binding_row(
            "ServiceEntry team-b/httpbin-org", "egress",
            "the waypoint istio-egress/egress does not admit namespace team-b "
            "(spec.listeners[0].allowedRoutes.namespaces.from: Selector {egress: allowed}): istiod refuses to bind "
            f"this ServiceEntry from namespace team-b, {BYPASS}",
            "set allowedRoutes.namespaces.from: All (or a Selector matching team-b) on the waypoint's HBONE listener "
            "(port 15008), or use a waypoint in namespace team-b")],
        "waypoint-policy-targets": []}),
    ("egress-wildcard-dynamic-dns", {"waypoint-binding-resolves": [], "waypoint-policy-targets": []}),
]


@pytest.mark.parametrize(("fixture", "expected"), DOCUMENTED, ids=[f for f, _ in DOCUMENTED])
def test_istio_documented_ambient_egress(fixture: str, expected: dict[str, list[Row]]) -> None:
    assert {rule: judge(rule, docs(fixture)) for rule in MODULES} == expected


def test_every_documented_fixture_is_judged() -> None:
    assert sorted(p.stem for p in DOCS.glob("*.yaml")) == sorted(f for f, _ in DOCUMENTED)


# --- every rule of the pack on the documented configs ---------------------------------------------

RULES: dict[str, ResourceRule | StackRule] = {r.name: r for r in (*RESOURCE_RULES, *STACK_RULES)}
CRDS = Path(os.environ.get("ISTIO_CRDS") or Path(__file__).parents[2] / "shared/reference/istio-crds/crd-all.gen.yaml")


def every_rule(manifests: list[Manifest], configs: dict[str, dict[str, Any]] | None = None) -> dict[str, list[Row]]:
    """Each rule's whole findings on a config (resource rules object by object); rules with none left out."""
    found: dict[str, list[Row]] = {}
    for name, rule in RULES.items():
        config = {**rule.defaults(), "crdFiles": [str(CRDS)]} if name == "istio-valid" else rule.defaults()
        config = {**config, **(configs or {}).get(name, {})}
        pairs = ([(m, f) for m in manifests for f in rule.check(m, config)] if isinstance(rule, ResourceRule)
                 else list(rule.check(manifests, config)))
        if pairs:
            found[name] = [(object_ref(m), f.path, f.value, f.message, f.fix) for m, f in pairs]
    return found


def unscoped(obj: str, waypoint: str | None = None) -> Row:
    """export-to-scoped on a ServiceEntry without exportTo; bound to a waypoint, it says what exportTo
    cannot do there (ztunnel and waypoints ignore it: waypoints.AMBIENT_IGNORES_EXPORT_TO)."""
    what = (f"the object to every namespace's sidecars; bound to the waypoint {waypoint}, it is not scoped by exportTo "
            f"for ambient clients: {AMBIENT_IGNORES_EXPORT_TO}" if waypoint else export_scope.SERVICE_ENTRY_EVERYWHERE)
    return (obj, "spec.exportTo", None, f"unset exportTo exports {what}", export_scope.FIX)


def originating_unscoped(obj: str) -> Row:
    return (obj, "spec.exportTo", None, "unset exportTo exports the object to every namespace",
            export_scope.FIX_ORIGINATING)


def lockdown_not_judged(obj: str, host: str) -> Row:
    """egress-lockdown (engineer K's rule) as it reads these configs today."""
    return (obj, "spec.exportTo", None,
            f"egress-lockdown did not judge this ServiceEntry: it is exported to every namespace, so the pods of "
            f"every namespace reach {host} and their lockdown cannot be listed",
            "scope exportTo to '.' and the client namespaces, then lock each of them down")


def docs_layout(**ambient: str) -> dict[str, list[Row]]:
    """The findings every variant of egress-waypoint.yaml shares (two ServiceEntries without exportTo,
    the waypoint's originating DestinationRule without exportTo); ``ambient``: the waypoint each
    ServiceEntry (by name) is bound to, when istiod binds it."""
    httpbin, example = "ServiceEntry istio-egress/httpbin-org", "ServiceEntry istio-egress/example-com"
    return {
        "export-to-scoped": [unscoped(httpbin, ambient.get("httpbin")),
                             originating_unscoped("DestinationRule istio-egress/httpbin-org-tls"),
                             unscoped(example, ambient.get("example"))],
        "egress-lockdown": [lockdown_not_judged(httpbin, "httpbin.org"), lockdown_not_judged(example, "example.com")],
    }


WAYPOINT_REF = "istio-egress/waypoint"
WILDCARD = "ServiceEntry istio-egress/wikipedia"
EVERY_RULE: dict[str, dict[str, list[Row]]] = {
    # Istio's documented config passes every rule but the pack's own scoping demands.
    "egress-waypoint": docs_layout(),
    "egress-waypoint-missing": docs_layout(),
    "egress-workload-waypoint": docs_layout(),
    "egress-selector-policy": docs_layout(),
    "egress-policy-targets-service": docs_layout(),
    "egress-cross-namespace": {
        "export-to-scoped": [unscoped("ServiceEntry team-a/httpbin-org", WAYPOINT_REF),
                             unscoped("ServiceEntry team-a/api-github-com", "istio-egress/egress-all")],
        "egress-lockdown": [lockdown_not_judged("ServiceEntry team-a/httpbin-org", "httpbin.org"),
                            lockdown_not_judged("ServiceEntry team-a/api-github-com", "api.github.com")],
    },
    "egress-cross-namespace-selector": {
        "export-to-scoped": [unscoped("ServiceEntry team-a/httpbin-org", "istio-egress/egress"),
                             unscoped("ServiceEntry team-b/httpbin-org", "istio-egress/egress")],
        "egress-lockdown": [lockdown_not_judged("ServiceEntry team-a/httpbin-org", "httpbin.org"),
                            lockdown_not_judged("ServiceEntry team-b/httpbin-org", "httpbin.org")],
    },
    "egress-wildcard-dynamic-dns": {
        "no-wildcard-hosts": [(WILDCARD, "spec.hosts[0]", "*.wikipedia.org",
                               "wildcard hosts allow egress to any name they cover",
                               "list the concrete hosts, or add this pattern to allowedWildcards")],
        "export-to-scoped": [unscoped(WILDCARD, WAYPOINT_REF)],
        # routing_ambient: buildWaypointInboundVIP builds no cluster for the TLS port without the flag.
        "egress-via-gateway": [(
            WILDCARD, "spec.ports[1].number", 443,
            "the waypoint istio-egress/waypoint serves no port 443 of this DYNAMIC_DNS ServiceEntry: the waypoint "
            "builds no cluster for a TLS port of a DYNAMIC_DNS ServiceEntry unless istiod runs with "
            "ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS=true (Istio 1.29+, off by default: such TLS is routed by SNI "
            "alone, which a client can spoof), so connections to it fail at the waypoint",
            "serve the wildcard on an HTTP port (the waypoint can originate TLS), set "
            "ENABLE_WILDCARD_HOST_SERVICE_ENTRIES_FOR_TLS=true on istiod if SNI-only routing is accepted, or name the "
            "concrete hosts with resolution DNS")],
        "egress-lockdown": [lockdown_not_judged(WILDCARD, "*.wikipedia.org")],
    },
}
for _fixture, _rows in DOCUMENTED:
    EVERY_RULE[_fixture].update({rule: found for rule, found in _rows.items() if found})

@pytest.mark.parametrize("fixture", sorted(EVERY_RULE))
def test_every_rule_gives_istios_verdict(fixture: str) -> None:
    assert every_rule(docs(fixture)) == EVERY_RULE[fixture]


def test_the_every_rule_table_covers_every_fixture() -> None:
    assert sorted(EVERY_RULE) == sorted(p.stem for p in DOCS.glob("*.yaml"))


def test_an_inherited_binding_gets_the_service_entry_message() -> None:
    """A ServiceEntry bound through its Namespace's label (fetchWaypointForTarget): export-to-scoped, a
    resource rule, cannot see the binding, so it speaks of sidecars and never claims exportTo scopes
    ambient clients."""
    for fixture in ("egress-waypoint", "egress-selector-policy", "egress-policy-targets-service"):
        assert every_rule(docs(fixture))["export-to-scoped"] == docs_layout()["export-to-scoped"]


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


def sidecar_routes() -> list[Manifest]:
    return [e["manifest"] for p in sorted((FIXTURES / "routes").glob("*.yaml"))
            for e in yaml.safe_load(p.read_text())["expected"]]


# mutual-shared-waypoint names egress/waypoint, made outside the component.
EXTERNAL = {"waypoint-binding-resolves": {"externalWaypoints": ["egress/waypoint"]}}
MIXES = {
    "ambient alone": ambient_routes,
    # The sidecar route fixtures serve the same hosts (api.github.com, api.stripe.com...) through the
    # sidecar egress gateway: each flavour's DestinationRules must stay its own (waypoint_homes).
    "beside sidecar routes of the same hosts": lambda: sidecar_routes() + ambient_routes(),
    "sidecar routes first, then ambient": lambda: ambient_routes() + sidecar_routes(),
}


@pytest.mark.parametrize("mix", sorted(MIXES))
def test_egress_route_ambient_output_passes_every_mandatory_rule(mix: str) -> None:
    found = every_rule(MIXES[mix](), EXTERNAL)
    assert {rule: rows for rule, rows in found.items() if RULES[rule].enforcement == "mandatory"} == {}
    # Only egress-lockdown's advisories remain (engineer K's rule: the client namespaces are not locked down).
    assert sorted(found) == ["egress-lockdown"]


def test_the_mix_shares_hosts_between_flavours() -> None:
    """Not vacuous: the mix really routes some host both ways."""
    def hosts(manifests: list[Manifest]) -> set[str]:
        return {h for m in manifests if m["kind"] == "ServiceEntry" for h in m["spec"]["hosts"]}
    assert hosts(ambient_routes()) & hosts(sidecar_routes()) >= {"api.github.com"}


def test_the_pack_reports_them_over_grpc() -> None:
    violations = run_pack(PACK, [Resource.from_manifest(m) for m in docs("egress-selector-policy")])
    ours = [(v.policy_name, v.enforcement_level, v.urn.rsplit("::", 1)[-1]) for v in violations
            if v.policy_name in MODULES]
    assert ours == [("waypoint-policy-targets", "mandatory", "istio-egress/httpbin-org")]
