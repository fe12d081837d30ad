"""EgressLockdown and the egress-lockdown rule.

The component under Pulumi's mocks: exactly its NetworkPolicy (the typed pulumi-kubernetes
resource) and Sidecar for each case in fixtures/lockdowns, nothing on bad input; the objects pass
Istio's CRDs and webhook rules and pulumi-kubernetes' NetworkPolicy types. The rule: stacks with
and without a lockdown of the routes' client namespaces, with the whole list of findings.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pulumi
import pytest
from kubernetes_types import network_policy_problems
from mocking import Registered, children, load_case, registers_exactly, run

from pulumi_istio_egress import EgressLockdown, EgressLockdownError, lockdown_manifests, parse_lockdown
from pulumi_istio_egress.cli.pack_client import Resource, run_pack
from pulumi_istio_egress.conformance import CrdSet
from pulumi_istio_egress.findings import Manifest, object_ref
from pulumi_istio_egress.policies import egress_lockdown
from pulumi_istio_egress.webhook import webhook_findings

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted((FIXTURES / "lockdowns").glob("*.yaml"))
COMPONENT = "istio-egress:index:EgressLockdown"
ROOT = Path(__file__).parents[1]
CRDS = Path(os.environ.get("ISTIO_CRDS", ROOT.parent / "shared" / "reference" / "istio-crds" / "crd-all.gen.yaml"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_lockdown_registers_exactly_its_objects(path: Path) -> None:
    case, recording = registers_exactly(path, EgressLockdown, COMPONENT)
    components = [(r.name, r.parent, r.inputs) for r in recording.resources if r.type == COMPONENT]
    assert components == [(case["name"], "pulumi:pulumi:Stack", {})]
    made = [c["manifest"] for c in case["expected"]]
    assert recording.outputs[case["name"]] == {
        "namespace": case["args"]["namespace"],
        "network_policy_name": "egress-lockdown",
        "sidecar_name": "egress-lockdown" if any(m["kind"] == "Sidecar" for m in made) else "",
        "objects": [f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}" for m in made],
    }


def test_the_network_policy_is_the_typed_kubernetes_resource() -> None:
    recording = run(lambda: EgressLockdown("payments", {"namespace": "payments"}))
    assert sorted((r.name, r.type) for r in recording.resources if r.parent == COMPONENT) == [
        ("payments-networkpolicy", "kubernetes:networking.k8s.io/v1:NetworkPolicy"),
        ("payments-sidecar", "kubernetes:networking.istio.io/v1:Sidecar")]


def test_output_args_resolve_into_the_same_objects() -> None:
    case = load_case(FIXTURES / "lockdowns" / "narrow.yaml")
    args = dict(case["args"], namespace=pulumi.Output.from_input("ci"),
                allow_cidrs=pulumi.Output.from_input(case["args"]["allow_cidrs"]))
    assert children(run(lambda: EgressLockdown(case["name"], args)).resources, COMPONENT) == case["expected"]


@pytest.fixture(scope="module")
def crds() -> CrdSet:
    assert CRDS.is_file(), f"Istio CRDs not found at {CRDS}: set ISTIO_CRDS (the conformance check must run)"
    return CrdSet.load(CRDS)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_objects_pass_istio_and_kubernetes_schemas(path: Path, crds: CrdSet) -> None:
    problems: dict[str, list[Any]] = {}
    for entry in load_case(path)["expected"]:
        manifest = entry["manifest"]
        ref = f"{manifest['kind']} {manifest['metadata']['namespace']}/{manifest['metadata']['name']}"
        if manifest["kind"] == "NetworkPolicy":
            problems[ref] = network_policy_problems(manifest)
        else:
            problems[ref] = [*crds.validate(manifest), *webhook_findings(manifest)]
    assert problems == {ref: [] for ref in problems}


def test_the_kubernetes_type_check_can_fail() -> None:
    args = {"namespace": "payments", "allow_cidrs": ["10.0.0.1/32"]}
    policy = copy.deepcopy(lockdown_manifests(parse_lockdown(args))[0])
    policy["spec"]["egress"][0]["ports"][0]["port"] = [53]
    policy["spec"]["egres"] = []
    del policy["spec"]["podSelector"]
    policy["spec"]["egress"][2]["to"][0]["ipBlock"] = {"except": ["10.0.0.0/8"]}
    assert network_policy_problems(policy) == [
        "spec.egres: not a field of NetworkPolicySpecArgs",
        "spec.podSelector: required by NetworkPolicySpecArgs",
        "spec.egress[0].ports[0].port: expected int, got [53]",
        "spec.egress[2].to[0].ipBlock.cidr: required by IPBlockArgs",
    ]


BAD_INPUT = [
    ({"namespace": None}, "namespace=None is invalid: it is required. Fix: name the client namespace to lock down, "
     "e.g. namespace='payments'"),
    ({"namespace": "Payments"}, "namespace='Payments' is invalid: it must be lower-case letters, digits and '-', "
     "starting and ending with a letter or digit. Fix: name the client namespace to lock down, e.g. 'payments'"),
    ({"namespace": "istio-system"}, "namespace='istio-system' is invalid: it is the egress gateway's namespace, whose "
     "gateway must reach the internet. Fix: lock down the client namespaces, not the gateway's"),
    ({"namespce": "payments"}, "namespce='payments' is invalid: it is not a field of EgressLockdownArgs. "
     "Fix: did you mean 'namespace'?"),
    ({"in_cluster": "all"}, "in_cluster='all' is invalid: it is not a known choice. "
     "Fix: use one of 'ALL_PODS', 'GATEWAY_AND_ISTIOD'"),
    ({"allow_cidrs": "10.0.0.1/32"}, "allow_cidrs='10.0.0.1/32' is invalid: it is not a list of CIDRs. "
     "Fix: pass a list, e.g. ['10.0.0.1/32']"),
    ({"allow_cidrs": ["10.0.0.1"]}, "allow_cidrs='10.0.0.1' is invalid: it has no prefix length. "
     "Fix: write '10.0.0.1/32' for this one address"),
    ({"allow_cidrs": ["10.0.0.1/16"]}, "allow_cidrs='10.0.0.1/16' is invalid: it has bits set after the prefix "
     "length. Fix: write the network '10.0.0.0/16'"),
    ({"allow_cidrs": ["10.0.0.0/33"]}, "allow_cidrs='10.0.0.0/33' is invalid: it is not a CIDR (address/prefix "
     "length). Fix: write an IP network such as '10.0.0.0/16' or '10.0.0.1/32'"),
    ({"allow_cidrs": ["api.example.com"]}, "allow_cidrs='api.example.com' is invalid: it is not a CIDR "
     "(address/prefix length). Fix: write an IP network such as '10.0.0.0/16' or '10.0.0.1/32'"),
    ({"allow_cidrs": ["0.0.0.0/0"]}, "allow_cidrs='0.0.0.0/0' is invalid: it allows every address, which undoes the "
     "lockdown. Fix: list only the networks outside the cluster the pods must reach directly (e.g. the API server); "
     "reach external hosts through an EgressRoute"),
    ({"allow_cidrs": ["::/0"]}, "allow_cidrs='::/0' is invalid: it allows every address, which undoes the "
     "lockdown. Fix: list only the networks outside the cluster the pods must reach directly (e.g. the API server); "
     "reach external hosts through an EgressRoute"),
    ({"allow_cidrs": ["10.0.0.1/32", "10.0.0.1/32"]}, "allow_cidrs='10.0.0.1/32' is invalid: it is listed twice. "
     "Fix: list each CIDR once"),
    ({"allow_cidrs": [10]}, "allow_cidrs=10 is invalid: it is not a string. "
     "Fix: pass CIDRs as strings, e.g. ['10.0.0.1/32']"),
    ({"gateway_target_ports": [8443]}, "gateway_target_ports=[8443] is invalid: it only shapes in_cluster "
     "GATEWAY_AND_ISTIOD; ALL_PODS allows every pod. Fix: remove gateway_target_ports, or set "
     "in_cluster='GATEWAY_AND_ISTIOD'"),
    ({"in_cluster": "GATEWAY_AND_ISTIOD", "gateway_target_ports": [0]}, "gateway_target_ports=0 is invalid: it is "
     "outside 1-65535. Fix: pass a port number, e.g. 8080"),
    ({"in_cluster": "GATEWAY_AND_ISTIOD", "gateway_target_ports": ["8443"]}, "gateway_target_ports='8443' is "
     "invalid: it is not an integer. Fix: pass a port number, e.g. 8080"),
    ({"in_cluster": "GATEWAY_AND_ISTIOD", "gateway_target_ports": []}, "gateway_target_ports=[] is invalid: it is "
     "not a non-empty list of port numbers. Fix: pass a list, e.g. [8080, 8443]"),
    ({"in_cluster": "GATEWAY_AND_ISTIOD", "istiod_ports": [15012, 15012]}, "istiod_ports=15012 is invalid: it is "
     "listed twice. Fix: list each port once"),
    ({"in_cluster": "GATEWAY_AND_ISTIOD", "gateway_selector": {}}, "gateway_selector={} is invalid: it is not a "
     "non-empty mapping of labels. Fix: pass the pods' labels, e.g. {'istio': 'egressgateway'}"),
    ({"dns_selector": {"k8s-app": "kube dns"}}, "dns_selector={'k8s-app': 'kube dns'} is invalid: it must be at "
     "most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric. Fix: pass the pods' labels, e.g. "
     "{'k8s-app': 'kube-dns'}"),
    ({"dns_namespace": "kube_system"}, "dns_namespace='kube_system' is invalid: it must be lower-case letters, "
     "digits and '-', starting and ending with a letter or digit. Fix: give the cluster DNS pods' namespace, e.g. "
     "'kube-system'"),
    ({"in_cluster": "GATEWAY_AND_ISTIOD", "allow_namespaces": ["*"]}, "allow_namespaces='*' is invalid: it must be "
     "lower-case letters, digits and '-', starting and ending with a letter or digit. Fix: fix or remove this "
     "entry; e.g. ['shared-services']"),
    ({"sidecar": "no"}, "sidecar='no' is invalid: it is not a boolean. Fix: pass True or False"),
    ({"sidecar": False, "import_namespaces": ["monitoring"]}, "import_namespaces=['monitoring'] is invalid: it only "
     "shapes the Sidecar, and sidecar is False. Fix: remove import_namespaces, or set sidecar=True"),
]


@pytest.mark.parametrize(("change", "message"), BAD_INPUT, ids=[str(c) for c, _ in BAD_INPUT])
def test_bad_input_is_refused_before_anything_registers(change: dict[str, Any], message: str) -> None:
    args = {"namespace": "payments", **change}
    registered: list[Registered] = []

    def program() -> None:
        EgressLockdown("payments", args)  # type: ignore[arg-type]

    with pytest.raises(EgressLockdownError) as caught:
        registered = run(program).resources
    assert str(caught.value) == f"EgressLockdown 'payments': {message}"
    assert isinstance(caught.value, ValueError)
    assert registered == []


def test_sidecar_as_an_output_is_refused_up_front() -> None:
    with pytest.raises(EgressLockdownError) as caught:
        run(lambda: EgressLockdown("payments", {"namespace": "payments",
                                                "sidecar": pulumi.Output.from_input(True)}))  # type: ignore[typeddict-item]
    assert str(caught.value).startswith("EgressLockdown 'payments': sidecar=<pulumi.output.Output object at ")
    assert str(caught.value).endswith(" is invalid: it is an Output, but it decides whether the Sidecar exists. "
                                      "Fix: pass a plain value (other fields may be Outputs)")


# --- the egress-lockdown rule ---------------------------------------------------------------------------


def route() -> list[Manifest]:
    """A PASSTHROUGH route for api.stripe.com used from payments: the gateway's ServiceEntry in
    istio-system (exportTo ['.']) and the client's in payments (exportTo ['.'])."""
    return [e["manifest"] for e in load_case(FIXTURES / "routes" / "passthrough.yaml")["expected"]]


def lockdown(**args: Any) -> list[Manifest]:
    return lockdown_manifests(parse_lockdown({"namespace": "payments", **args}))


def obj(kind: str, name: str, spec: dict[str, Any], namespace: str = "payments") -> Manifest:
    api = "networking.k8s.io/v1" if kind == "NetworkPolicy" else "networking.istio.io/v1"
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def edited(manifests: list[Manifest], kind: str, path: tuple[Any, ...], value: Any) -> list[Manifest]:
    out = copy.deepcopy(manifests)
    target = next(m for m in out if m["kind"] == kind)
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return out


SE = "ServiceEntry payments/egress-api-stripe-com"
GATEWAY_SE = "ServiceEntry istio-system/egress-api-stripe-com"
FIX = "declare EgressLockdown(namespace='payments'), or apply its YAML (`pulumi-istio-egress render`)"
NO_POLICY = (SE, "spec.exportTo[0]", "payments",
             "namespace payments uses egress routes (api.stripe.com), but no NetworkPolicy there restricts the egress "
             "of all its pods (podSelector {} with Egress in policyTypes), so a pod can open a socket to any address "
             "and bypass the egress gateway",
             f"{FIX}: a NetworkPolicy in payments with podSelector {{}}, policyTypes [Egress] and egress rules only "
             "for DNS, in-cluster pods and the CIDRs the pods must reach")
NO_SIDECAR = (SE, "spec.exportTo[0]", "payments",
              "namespace payments uses egress routes (api.stripe.com), but its sidecars are not REGISTRY_ONLY: no "
              "Sidecar without workloadSelector in payments or in the root namespace istio-system, and the mesh's "
              "outboundTrafficPolicy is ALLOW_ANY, so sidecars pass hosts the mesh does not know straight out",
              f"{FIX}: a Sidecar in payments without workloadSelector, with outboundTrafficPolicy {{mode: "
              "REGISTRY_ONLY} and egress hosts importing the gateway's namespace")
OPEN_FIX = ("name the destinations (DNS, in-cluster pods, specific CIDRs) instead, and reach external hosts through "
            "an EgressRoute")
SIDECAR_FIX = (f"set outboundTrafficPolicy {{mode: REGISTRY_ONLY}}, or {FIX}: a Sidecar in payments without "
               "workloadSelector, with outboundTrafficPolicy {mode: REGISTRY_ONLY} and egress hosts importing the "
               "gateway's namespace")
WEB_OPEN = obj("NetworkPolicy", "web-out", {"podSelector": {"matchLabels": {"app": "web"}},
                                             "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0",
                                                                             "except": ["10.0.0.0/8"]}}]}]})
ANY_443 = obj("NetworkPolicy", "https-out", {"podSelector": {}, "policyTypes": ["Egress"],
                                              "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}]})
ALLOW_ANY = obj("Sidecar", "default", {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}})
INHERITS = obj("Sidecar", "default", {"egress": [{"hosts": ["./*", "istio-system/*"]}]})
SELECTED = obj("Sidecar", "legacy", {"workloadSelector": {"labels": {"app": "legacy"}},
                                     "outboundTrafficPolicy": {"mode": "ALLOW_ANY"}})
ROOT_REGISTRY_ONLY = obj("Sidecar", "default", {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}, "istio-system")



def labelled(manifests: list[Manifest], kind: str, labels: dict[str, str]) -> list[Manifest]:
    """``manifests`` with ``labels`` on the object of ``kind`` in payments (a Namespace added if none)."""
    out = copy.deepcopy(manifests)
    target = next((m for m in out if m["kind"] == kind and "payments" in (m["metadata"].get("namespace"),
                                                                          m["metadata"]["name"])), None)
    if target is None:
        target = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "payments"}}
        out.append(target)
    target["metadata"].setdefault("labels", {}).update(labels)
    return out


WAYPOINT = {"istio.io/use-waypoint": "egress-waypoint"}
# A Gateway API gateway (or an ambient waypoint): istiod deploys its pods in the Gateway's namespace.
GATEWAY_API_ROUTE = [
    {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
     "metadata": {"name": "egress-api-stripe-com", "namespace": "egress"},
     "spec": {"hosts": ["api.stripe.com"], "exportTo": [".", "payments"], "location": "MESH_EXTERNAL",
              "resolution": "DNS", "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}},
    {"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
     "metadata": {"name": "egress-api-stripe-com", "namespace": "egress"},
     "spec": {"gatewayClassName": "istio", "listeners": [{"name": "tls", "port": 443, "protocol": "TLS"}]}},
]
FROM_EGRESS = [("ServiceEntry egress/egress-api-stripe-com", "spec.exportTo[1]", *row[2:])
               for row in (NO_POLICY, NO_SIDECAR)]

RULE_CASES: list[tuple[str, list[Manifest], dict[str, Any], list[tuple[str, str, Any, str, str]]]] = [
    # ztunnel does not implement outboundTrafficPolicy: an ambient client's lockdown is the NetworkPolicy.
    ("a route a waypoint carries: no Sidecar asked", labelled(route(), "ServiceEntry", WAYPOINT), {}, [NO_POLICY]),
    ("a waypoint route by its Namespace's label", labelled(route(), "Namespace", WAYPOINT), {}, [NO_POLICY]),
    ("use-waypoint none opts the entry out", labelled(labelled(route(), "Namespace", WAYPOINT), "ServiceEntry",
                                                      {"istio.io/use-waypoint": "none"}), {}, [NO_POLICY, NO_SIDECAR]),
    ("a Gateway API gateway's namespace holds gateway pods, not clients", GATEWAY_API_ROUTE, {}, FROM_EGRESS),

    ("a route without lockdown", route(), {}, [NO_POLICY, NO_SIDECAR]),
    ("a route with EgressLockdown", route() + lockdown(), {}, []),
    ("narrow EgressLockdown", route() + lockdown(in_cluster="GATEWAY_AND_ISTIOD", allow_cidrs=["10.0.0.1/32"]),
     {}, []),
    ("NetworkPolicy only, mesh-wide REGISTRY_ONLY", route() + lockdown(sidecar=False),
     {"meshOutboundTrafficPolicy": "REGISTRY_ONLY"}, []),
    ("NetworkPolicy only, root namespace Sidecar REGISTRY_ONLY",
     route() + lockdown(sidecar=False) + [ROOT_REGISTRY_ONLY], {}, []),
    ("root namespace Sidecar in another root namespace does not count",
     route() + lockdown(sidecar=False) + [ROOT_REGISTRY_ONLY], {"rootNamespace": "istio-config"},
     [(*NO_SIDECAR[:3], NO_SIDECAR[3].replace("root namespace istio-system", "root namespace istio-config"),
       NO_SIDECAR[4])]),
    ("NetworkPolicy only", route() + lockdown(sidecar=False), {}, [NO_SIDECAR]),
    ("policy selecting some pods only", edited(route() + lockdown(), "NetworkPolicy", ("spec", "podSelector"),
                                               {"matchLabels": {"app": "web"}}), {}, [NO_POLICY]),
    ("policy restricting ingress only", edited(route() + lockdown(), "NetworkPolicy", ("spec", "policyTypes"),
                                               ["Ingress"]), {}, [NO_POLICY]),
    ("policyTypes unset, egress rules present: still Egress (SetDefaults_NetworkPolicy)",
     edited(route() + lockdown(), "NetworkPolicy", ("spec", "policyTypes"), None), {}, []),
    ("policyTypes unset, no egress rules: not Egress",
     edited(edited(route() + lockdown(), "NetworkPolicy", ("spec", "policyTypes"), None),
            "NetworkPolicy", ("spec", "egress"), []), {}, [NO_POLICY]),
    ("another policy opens 0.0.0.0/0 for some pods", route() + lockdown() + [WEB_OPEN], {}, [
        ("NetworkPolicy payments/web-out", "spec.egress[0].to[0].ipBlock.cidr", "0.0.0.0/0",
         "NetworkPolicy payments/web-out in client namespace payments lets the pods it selects reach any address: "
         "its egress rule 0 allows ipBlock 0.0.0.0/0, every address; NetworkPolicies add up, so this re-opens the "
         "way around the egress gateway", OPEN_FIX)]),
    ("a rule without `to` opens port 443 everywhere", route() + lockdown() + [ANY_443], {}, [
        ("NetworkPolicy payments/https-out", "spec.egress[0]", {"ports": [{"protocol": "TCP", "port": 443}]},
         "NetworkPolicy payments/https-out in client namespace payments lets the pods it selects reach any address: "
         "its egress rule 0 has no `to`, which matches every destination (on ports 443); NetworkPolicies add up, so "
         "this re-opens the way around the egress gateway", OPEN_FIX)]),
    ("namespace Sidecar ALLOW_ANY", route() + lockdown(sidecar=False) + [ALLOW_ANY], {}, [
        ("Sidecar payments/default", "spec.outboundTrafficPolicy.mode", "ALLOW_ANY",
         "Sidecar payments/default applies to every workload of client namespace payments and sets "
         "outboundTrafficPolicy ALLOW_ANY, so those sidecars pass hosts the mesh does not know straight out",
         SIDECAR_FIX)]),
    ("namespace Sidecar inheriting the mesh default", route() + lockdown(sidecar=False) + [INHERITS], {}, [
        ("Sidecar payments/default", "spec.outboundTrafficPolicy.mode", None,
         "Sidecar payments/default applies to every workload of client namespace payments and inherits the mesh's "
         "outboundTrafficPolicy ALLOW_ANY, so those sidecars pass hosts the mesh does not know straight out",
         SIDECAR_FIX)]),
    ("a workload Sidecar ALLOW_ANY overrides the lockdown for its pods", route() + lockdown() + [SELECTED], {}, [
        ("Sidecar payments/legacy", "spec.outboundTrafficPolicy.mode", "ALLOW_ANY",
         "Sidecar payments/legacy applies to the pods of client namespace payments its workloadSelector matches and "
         "sets outboundTrafficPolicy ALLOW_ANY, so those sidecars pass hosts the mesh does not know straight out",
         "set outboundTrafficPolicy {mode: REGISTRY_ONLY}")]),
    ("a ServiceEntry exported nowhere has no clients",
     [{**m, "spec": {**m["spec"], "exportTo": ["~"]}} if m["kind"] == "ServiceEntry" else m for m in route()], {},
     []),
    ("a ServiceEntry exported everywhere is not judged",
     edited(route() + lockdown(), "ServiceEntry", ("spec", "exportTo"), ["*"]), {}, [
         (GATEWAY_SE, "spec.exportTo", ["*"],
          "egress-lockdown did not judge this ServiceEntry: it is exported to every namespace, so the pods of every "
          "namespace reach api.stripe.com and their lockdown cannot be listed",
          "scope exportTo to '.' and the client namespaces, then lock each of them down")]),
]


@pytest.mark.parametrize(("manifests", "config", "expected"), [c[1:] for c in RULE_CASES],
                         ids=[c[0] for c in RULE_CASES])
def test_egress_lockdown_rule(manifests: list[Manifest], config: dict[str, Any],
                              expected: list[tuple[str, str, Any, str, str]]) -> None:
    found = egress_lockdown.check(manifests, {**egress_lockdown.RULE.defaults(), **config})
    got = [(object_ref(m), f.path, f.value, f.message, f.fix) for m, f in found]
    assert got == expected


def test_rule_metadata() -> None:
    rule = egress_lockdown.RULE
    assert (rule.name, rule.severity, rule.enforcement, rule.defaults()) == (
        "egress-lockdown", "high", "advisory",
        {"rootNamespace": "istio-system", "meshOutboundTrafficPolicy": "ALLOW_ANY"})


def test_pack_judges_a_typed_network_policy_and_can_be_made_mandatory() -> None:
    # A typed pulumi-kubernetes NetworkPolicy: the type token says what it is, the props may not.
    policy, sidecar = lockdown()
    typed = Resource.from_manifest(policy)
    typed = Resource(type="kubernetes:networking.k8s.io/v1:NetworkPolicy", name=typed.name,
                     props={k: v for k, v in policy.items() if k not in ("apiVersion", "kind")})
    resources = [Resource.from_manifest(m) for m in [*route(), sidecar]]
    assert run_pack(ROOT / "policy", [*resources, typed], {"egress-lockdown": {"enforcementLevel": "mandatory"}}) == []
    violations = run_pack(ROOT / "policy", resources, {"egress-lockdown": {"enforcementLevel": "mandatory"}})
    assert [(v.policy_name, v.enforcement_level, v.message.split("\n", 1)[-1]) for v in violations] == [
        ("egress-lockdown", "mandatory", f"{NO_POLICY[1]}: {NO_POLICY[3]} (got 'payments'). Fix: {NO_POLICY[4]}")]
