"""Istio's documented classic egress configs (the "Istio APIs" tabs of istio.io's egress tasks and
Istio's samples/external), judged by every rule of the pack.

Each fixture under fixtures/istio-docs/classic is one config written out in our own words, with a
header saying what istiod does with it and the verdict Istio's semantics give. The table below is
the WHOLE list of findings each rule must report for it (a rule not named for a fixture reports
nothing). Where the pack's current verdict is wrong by Istio's semantics, the table holds the
correct expectation and the case is a strict xfail naming what is wrong and the istiod function
(``WRONG``): those are bugs to fix, and fixing one turns its xfail into a failure to remove.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.findings import Finding, Manifest, object_ref
from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES, export_scope
from pulumi_istio_egress.policies.rule import ResourceRule, StackRule

DOCS = Path(__file__).parent / "fixtures" / "istio-docs" / "classic"
RULES: dict[str, ResourceRule | StackRule] = {r.name: r for r in (*RESOURCE_RULES, *STACK_RULES)}
Row = tuple[str, str, Any, str, str]
"""(object, path, value, message, fix) of one finding."""

CRDS = Path(os.environ.get("ISTIO_CRDS") or Path(__file__).parents[2] / "shared/reference/istio-crds/crd-all.gen.yaml")


def docs(name: str) -> list[Manifest]:
    return [d for d in yaml.safe_load_all((DOCS / f"{name}.yaml").read_text()) if d]


def config(rule: ResourceRule | StackRule) -> dict[str, Any]:
    # istio-valid runs both layers: the webhook rules and Istio's CRDs (every fixture passes both).
    return {**rule.defaults(), "crdFiles": [str(CRDS)]} if rule.name == "istio-valid" else rule.defaults()


def judge(rule_name: str, manifests: list[Manifest]) -> list[Row]:
    """Every finding of one rule on a whole config, in the rule's order (resource rules object by object)."""
    rule = RULES[rule_name]
    found: list[tuple[Manifest, Finding]] = []
    if isinstance(rule, ResourceRule):
        found = [(m, f) for m in manifests for f in rule.check(m, config(rule))]
    else:
        found = list(rule.check(manifests, config(rule)))
    return [(object_ref(m), f.path, f.value, f.message, f.fix) for m, f in found]


# --- the findings, one builder per fact ------------------------------------------------------------

SE_EVERYWHERE = ("the object to every namespace's sidecars (ztunnel and waypoi"
                 "nts ignore exportTo: it never scopes ambient clients)")


def unscoped(obj: str) -> Row:
    """export-to-scoped: an object that must set exportTo does not. It owns this fact: egress-visibility
    does not report the same unset exportTo again (one finding per fact, issue 9)."""
    fix = export_scope.FIX_ORIGINATING if obj in ORIGINATING else export_scope.FIX
    # A ServiceEntry's message speaks of sidecars: a resource rule cannot see an ambient binding.
    everywhere = SE_EVERYWHERE if obj.startswith("ServiceEntry ") else "the object to every namespace"
    return (obj, "spec.exportTo", None, f"unset exportTo exports {everywhere}", fix)


def lockdown_not_judged(obj: str, host: str) -> Row:
    return (obj, "spec.exportTo", None,
            f"egress-lockdown did not judge this ServiceEntry: it is exported to every namespace, so the pods of "
            f"every namespace reach {host} and their lockdown cannot be listed",
            "scope exportTo to '.' and the client namespaces, then lock each of them down")


def no_mesh_route(obj: str, host: str) -> Row:
    return (obj, "spec.hosts[0]", host,
            f"no VirtualService bound to mesh routes {host} to the egress gateway, so sidecars send it straight to "
            "the host and bypass the gateway (its policy and audit do not apply)",
            f"add a VirtualService for {host} bound to mesh whose route sends it to the egress gateway Service and "
            "subset, with a DestinationRule defining the subset (EgressRoute emits both)")


def no_gateway(obj: str, host: str) -> Row:
    return (obj, "spec.hosts[0]", host, f"no Gateway serves {host}, so the egress gateway has no listener for it",
            f"add a Gateway selecting the egress gateway pods with a server for {host} (TLS PASSTHROUGH when the app "
            "speaks TLS, HTTPS with ISTIO_MUTUAL when the gateway originates TLS)")


def routed_to_host(obj: str, host: str, route: str) -> Row:
    return (obj, "spec.hosts[0]", host,
            f"mesh traffic for {host} bypasses the egress gateway: {route} sends it to {host}, the external host "
            "itself",
            f"route {host} from mesh only to the egress gateway Service (e.g. {EGW}), and on to the host from the "
            "Gateway")


def unrouted_tls_port(obj: str, host: str) -> Row:
    """The documented layouts show 443 to clients while the mesh route covers 80 (tls.go default SNI chain)."""
    return (obj, "spec.ports[1].number", 443,
            f"no mesh route sends port 443 of {host} to the egress gateway (routes cover 80), so sidecars that see "
            "this port send it straight to the host",
            "route port 443 from mesh to the egress gateway too, or leave it out of the ServiceEntry clients see "
            "(EgressRoute keeps the host's TLS port in a gateway-only ServiceEntry)")


def subset_only_in_default(obj: str, path: str, subset: str, in_default: str = "") -> Row:
    """The tasks put the subset's rule in `default`; istiod finds none elsewhere (push_context.go destinationRule)."""
    return (obj, path, subset,
            f"subset {subset} of {EGW} is not defined where this route is used: {in_default}in every other namespace "
            "no DestinationRule for the host is visible; requests on the route fail with 503",
            f"define subset {subset} in a DestinationRule for {EGW} that those namespaces see (EgressRoute puts one "
            "in each client namespace, exported to '.'), or fix the subset name")


def dns_not_pinned(obj: str) -> Row:
    return (obj, "spec.resolution", "NONE",
            "an external host must be resolved by DNS so traffic goes to that host only",
            "set resolution: DNS (or pin the addresses: `addresses` with NONE, or STATIC endpoints)")


EGW = "istio-egressgateway.istio-system.svc.cluster.local"
CNN = "edition.cnn.com"
NGINX = "my-nginx.mesh-external.svc.cluster.local"
SE_CNN, VS_CNN, DR_CNN = ("ServiceEntry default/cnn", "VirtualService default/direct-cnn-through-egress-gateway",
                          "DestinationRule default/egressgateway-for-cnn")
ORIGINATE_CNN = "DestinationRule default/originate-tls-for-edition-cnn-com"
TEST_EGRESS_DR = "DestinationRule test-egress/egressgateway-for-cnn"
VS_NGINX, DR_NGINX, ORIGINATE_NGINX = ("VirtualService default/direct-nginx-through-egress-gateway",
                                       "DestinationRule default/egressgateway-for-nginx",
                                       "DestinationRule istio-system/originate-mtls-for-nginx")
ORIGINATING = (ORIGINATE_CNN, ORIGINATE_NGINX, "DestinationRule default/edition-cnn-com")
"""DestinationRules that originate TLS: export-to-scoped's fix for them keeps them from the clients."""


def only_a_service_entry(obj: str, host: str) -> dict[str, list[Row]]:
    """A bare ServiceEntry, as the egress-control task has it: a bypass by the pack's intent."""
    return {"export-to-scoped": [unscoped(obj)],
            "egress-via-gateway": [no_mesh_route(obj, host), no_gateway(obj, host)],
            "egress-lockdown": [lockdown_not_judged(obj, host)]}


def gateway_scoping(*objects: str) -> list[Row]:
    return [unscoped(o) for o in objects]


def cnn_origination(*, references: list[Row], visibility_extra: list[Row]) -> dict[str, list[Row]]:
    """gateway-tls-origination.yaml's findings, shared by its broken variants."""
    return {
        "export-to-scoped": gateway_scoping(SE_CNN, DR_CNN, VS_CNN, ORIGINATE_CNN),
        "egress-via-gateway": [unrouted_tls_port(SE_CNN, CNN)],
        "egress-references-resolve": [subset_only_in_default(VS_CNN, "spec.http[0].route[0].destination.subset", "cnn"),
                                      *references],
        "egress-visibility": visibility_extra,
        "egress-lockdown": [lockdown_not_judged(SE_CNN, CNN)],
    }


def cnn_passthrough(*, via: list[Row], subset: str = "cnn", in_default: str = "") -> dict[str, list[Row]]:
    return {
        "export-to-scoped": gateway_scoping(SE_CNN, DR_CNN, VS_CNN),
        "egress-via-gateway": via,
        "egress-references-resolve": [subset_only_in_default(VS_CNN, "spec.tls[0].route[0].destination.subset",
                                                             subset, in_default)],
        "egress-lockdown": [lockdown_not_judged(SE_CNN, CNN)],
    }


def nginx_origination(*, via: list[Row]) -> dict[str, list[Row]]:
    return {
        "export-to-scoped": gateway_scoping(DR_NGINX, VS_NGINX, ORIGINATE_NGINX),
        "egress-via-gateway": via,
        "egress-references-resolve": [subset_only_in_default(VS_NGINX, "spec.http[0].route[0].destination.subset",
                                                             "nginx")],
    }


# The verdicts the pack gives and Istio does not (a strict xfail each; the correct expectation is in
# EXPECTED): none today. Issue 9's were fixed; a new one goes here with the istiod function it breaks.
WRONG: dict[tuple[str, str], str] = {}

EXPECTED: dict[str, dict[str, list[Row]]] = {
    "control-http": only_a_service_entry("ServiceEntry default/httpbin-ext", "httpbin.org"),
    "control-https": only_a_service_entry("ServiceEntry default/google", "www.google.com"),
    "control-timeout": {
        **only_a_service_entry("ServiceEntry default/httpbin-ext", "httpbin.org"),
        "egress-via-gateway": [
            routed_to_host("ServiceEntry default/httpbin-ext", "httpbin.org",
                           "VirtualService default/httpbin-ext spec.http[0].route[0].destination"),
            no_gateway("ServiceEntry default/httpbin-ext", "httpbin.org")],
    },
    "sidecar-tls-origination": {
        **only_a_service_entry("ServiceEntry default/edition-cnn-com", CNN),
        "export-to-scoped": gateway_scoping("ServiceEntry default/edition-cnn-com",
                                            "DestinationRule default/edition-cnn-com"),
    },
    # An in-cluster Service, no ServiceEntry: no rule has an egress route to judge, and a selector rule's
    # exportTo means nothing.
    "sidecar-mtls-origination": {},
    "gateway-http": {
        "export-to-scoped": gateway_scoping(SE_CNN, DR_CNN, VS_CNN),
        "egress-via-gateway": [unrouted_tls_port(SE_CNN, CNN)],
        "egress-references-resolve": [
            subset_only_in_default(VS_CNN, "spec.http[0].route[0].destination.subset", "cnn")],
        "egress-lockdown": [lockdown_not_judged(SE_CNN, CNN)],
    },
    "gateway-https-passthrough": cnn_passthrough(via=[]),
    # The copy of the subset's rule in test-egress is found from there only (push_context.go destinationRule).
    "gateway-https-network-policy": {
        **cnn_passthrough(via=[]),
        "export-to-scoped": gateway_scoping(SE_CNN, DR_CNN, VS_CNN, TEST_EGRESS_DR),
    },
    "gateway-tls-origination": cnn_origination(references=[], visibility_extra=[]),
    "gateway-mtls-origination": nginx_origination(via=[]),
    "wildcard-passthrough": {
        "export-to-scoped": gateway_scoping("DestinationRule default/egressgateway-for-wikipedia",
                                            "VirtualService default/direct-wikipedia-through-egress-gateway",
                                            "ServiceEntry default/www-wikipedia"),
        "egress-references-resolve": [subset_only_in_default(
            "VirtualService default/direct-wikipedia-through-egress-gateway", "spec.tls[0].route[0].destination.subset",
            "wikipedia")],
        "egress-lockdown": [lockdown_not_judged("ServiceEntry default/www-wikipedia", "www.wikipedia.org")],
    },
    "wildcard-direct": {
        **only_a_service_entry("ServiceEntry default/wikipedia", "*.wikipedia.org"),
        "no-wildcard-hosts": [("ServiceEntry default/wikipedia", "spec.hosts[0]", "*.wikipedia.org",
                               "wildcard hosts allow egress to any name they cover",
                               "list the concrete hosts, or add this pattern to allowedWildcards")],
    },
    "http-proxy": only_a_service_entry("ServiceEntry default/proxy", "my-company-proxy.com"),
    "kubernetes-externalname": {
        "egress-via-gateway": [(
            "Service default/my-httpbin", "spec.externalName", "httpbin.org",
            "Service default/my-httpbin is an ExternalName for httpbin.org: istiod gives sidecars a DNS cluster "
            "straight to httpbin.org, so its traffic bypasses the egress gateway (its policy and audit do not apply)",
            "declare httpbin.org with a ServiceEntry routed through the egress gateway (EgressRoute), and remove the "
            "ExternalName Service")],
    },
    "samples-github": {
        "export-to-scoped": gateway_scoping("ServiceEntry default/github-https", "ServiceEntry default/github-tcp"),
        # The CIDR entry pins its addresses (NONE is the only resolution istiod accepts with CIDRs).
        "dns-resolution-for-external-hosts": [dns_not_pinned("ServiceEntry default/github-https")],
        "egress-via-gateway": [
            no_mesh_route("ServiceEntry default/github-https", "github.com"),
            no_gateway("ServiceEntry default/github-https", "github.com"),
            no_mesh_route("ServiceEntry default/github-tcp", "dummy.github.com"),
            no_gateway("ServiceEntry default/github-tcp", "dummy.github.com")],
        "egress-lockdown": [lockdown_not_judged("ServiceEntry default/github-https", "github.com"),
                            lockdown_not_judged("ServiceEntry default/github-tcp", "dummy.github.com")],
    },
    "samples-pypi": {
        "export-to-scoped": gateway_scoping("ServiceEntry default/python-https", "ServiceEntry default/pypi-https"),
        "dns-resolution-for-external-hosts": [dns_not_pinned("ServiceEntry default/python-https"),
                                              dns_not_pinned("ServiceEntry default/pypi-https")],
        "egress-via-gateway": [
            routed_to_host("ServiceEntry default/python-https", "pypi.python.org",
                           "VirtualService default/python-https spec.tls[0].route[0].destination"),
            no_gateway("ServiceEntry default/python-https", "pypi.python.org"),
            routed_to_host("ServiceEntry default/pypi-https", "pypi.org",
                           "VirtualService default/pypi-https spec.tls[0].route[0].destination"),
            no_gateway("ServiceEntry default/pypi-https", "pypi.org")],
        "egress-lockdown": [lockdown_not_judged("ServiceEntry default/python-https", "pypi.python.org"),
                            lockdown_not_judged("ServiceEntry default/pypi-https", "pypi.org")],
    },
    # --- broken variants -----------------------------------------------------------------------
    "broken-missing-gateway-leg": cnn_passthrough(via=[(
        SE_CNN, "spec.hosts[0]", CNN,
        f"no VirtualService bound to Gateway default/istio-egressgateway routes {CNN} on to the host, so the gateway "
        "accepts the connection but has no route for it",
        f"add a VirtualService for {CNN} bound to Gateway default/istio-egressgateway whose route's destination host "
        f"is {CNN}")]),
    "broken-wrong-subset": cnn_passthrough(
        via=[], subset="edition-cnn",
        in_default="in default the DestinationRule Istio uses there (default/egressgateway-for-cnn) does not define "
                   "it; "),
    "broken-wrong-port": cnn_origination(visibility_extra=[], references=[(
        VS_CNN, "spec.http[0].route[0].destination.port.number", 443,
        f"port 443 of {EGW} is not a port Gateway default/istio-egressgateway serves {CNN} on (its server for it is "
        "on 80), so the gateway has no listener or server for this route's traffic",
        f"send the mesh leg to port 80, the port of the Gateway's server for {CNN}")]),
    "broken-gateway-match-port": cnn_origination(visibility_extra=[], references=[(
        VS_CNN, "spec.http[1].match[0].port", 443,
        f"this route is bound to Gateway default/istio-egressgateway on port 443, but the Gateway serves {CNN} on 80 "
        "only: a gateway's routes match its server's port, so this one never matches (404 NR)",
        f"match port 80, the port of the Gateway's server for {CNN}, or leave the port out of the match")]),
    "broken-mtls-missing-gateway-leg": nginx_origination(via=[(
        VS_NGINX, "spec.http[0].route[0].destination.host", EGW,
        f"no VirtualService bound to Gateway default/istio-egressgateway routes {NGINX} on to the host, so the "
        "gateway accepts the connection but has no route for it",
        f"add a VirtualService for {NGINX} bound to Gateway default/istio-egressgateway whose route's destination "
        f"host is {NGINX}")]),
}

CASES = [pytest.param(fixture, rule, id=f"{fixture}-{rule}",
                      marks=[pytest.mark.xfail(strict=True, reason=WRONG[fixture, rule])] if (fixture, rule) in WRONG
                      else [])
         for fixture in sorted(EXPECTED) for rule in RULES]


@pytest.mark.parametrize(("fixture", "rule"), CASES)
def test_istio_documented_classic_egress(fixture: str, rule: str) -> None:
    assert judge(rule, docs(fixture)) == EXPECTED[fixture].get(rule, [])


def test_every_fixture_is_judged_and_says_what_istio_does() -> None:
    assert sorted(p.stem for p in DOCS.glob("*.yaml")) == sorted(EXPECTED)
    for path in DOCS.glob("*.yaml"):
        header = [line for line in path.read_text().splitlines() if line.startswith("#")]
        verdicts = [line for line in header if line.startswith("# verdict: ")]
        assert header and header[0].startswith("# ") and len(verdicts) == 1, path.name


def test_the_table_names_only_rules_of_the_pack() -> None:
    assert {rule for rules in EXPECTED.values() for rule in rules} <= set(RULES)
    assert {rule for _, rule in WRONG} <= set(RULES) and {f for f, _ in WRONG} <= set(EXPECTED)
    assert CRDS.is_file(), f"Istio's CRDs are needed at {CRDS} ($ISTIO_CRDS)"
