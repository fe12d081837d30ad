"""The stack rules over whole stacks: egress-via-gateway, egress-references-resolve, egress-visibility.

Every EgressRoute pattern passes all three; each fixture under fixtures/stacks shows one way a
hand-written stack goes wrong, with the whole list of findings each rule reports for it.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pulumi_istio_egress.findings import Finding, Manifest, object_ref
from pulumi_istio_egress.policies import egress_references, egress_via_gateway, egress_visibility, objects

FIXTURES = Path(__file__).parent / "fixtures"
ROUTES = sorted((FIXTURES / "routes").glob("*.yaml"))
STACKS = sorted((FIXTURES / "stacks").glob("*.yaml"))
MODULES: dict[str, ModuleType] = {m.RULE.name: m for m in (egress_via_gateway, egress_references, egress_visibility)}
Row = tuple[str, str, Any, str, str]


def route_stack(path: Path) -> list[Manifest]:
    """The exact objects EgressRoute emits for one pattern."""
    return [entry["manifest"] for entry in yaml.safe_load(path.read_text())["expected"]]


def stack(name: str) -> list[Any]:
    return list(yaml.safe_load_all((FIXTURES / "stacks" / f"{name}.yaml").read_text()))


def judge(rule: str, manifests: Any, config: dict[str, Any] | None = None) -> list[Row]:
    """(object, path, value, message, fix) of every finding, in the rule's order."""
    module = MODULES[rule]
    found = module.RULE.check(manifests, module.RULE.defaults() if config is None else config)
    rows = []
    for manifest, finding in found:
        assert isinstance(finding, Finding)
        rows.append((object_ref(manifest), finding.path, finding.value, finding.message, finding.fix))
    return rows


def unrouted_tls_port(entry: str, host: str) -> Row:
    """egress-via-gateway's per-port verdict on the classic origination layout (Istio's docs): the
    ServiceEntry shows the host's 443 to clients, the mesh route covers only 80, and istiod gives an
    unrouted TLS port a direct SNI chain to the host (pilot/pkg/networking/core/tls.go)."""
    return (f"ServiceEntry {entry}", "spec.ports[1].number", 443,
            f"no mesh route sends port 443 of {host} to the egress gateway (routes cover 80), so sidecars that "
            "see this port send it straight to the host",
            "route port 443 from mesh to the egress gateway too, or leave it out of the ServiceEntry clients see "
            "(EgressRoute keeps the host's TLS port in a gateway-only ServiceEntry)")


def test_rule_metadata() -> None:
    got = {name: (m.RULE.severity, m.RULE.enforcement, m.RULE.defaults()) for name, m in MODULES.items()}
    assert got == {
        "egress-via-gateway": ("high", "mandatory", {}),
        "egress-references-resolve": ("high", "mandatory", {"rootNamespace": "istio-system"}),
        "egress-visibility": ("medium", "mandatory", {"rootNamespace": "istio-system"}),
    }
    # The pure functions are importable on their own, and are what the rules run.
    assert [m.RULE.check for m in MODULES.values()] == [m.check for m in MODULES.values()]


@pytest.mark.parametrize("rule", MODULES)
@pytest.mark.parametrize("path", ROUTES, ids=[p.stem for p in ROUTES])
def test_every_egress_route_pattern_passes(path: Path, rule: str) -> None:
    assert judge(rule, route_stack(path)) == []


@pytest.mark.parametrize("rule", MODULES)
def test_all_egress_route_patterns_in_one_stack_pass(rule: str) -> None:
    # payments gets two routes' gateway DestinationRules (stripe, bank), merged by Istio.
    assert judge(rule, [m for path in ROUTES for m in route_stack(path)]) == []


EXPECTED: dict[str, dict[str, list[Row]]] = {
    "blog-recipe": {
        "egress-via-gateway": [
            ('ServiceEntry default/google', 'spec.hosts[0]', 'www.google.com',
             'no VirtualService bound to mesh routes www.google.com to the egress gateway, so '
             'sidecars send it straight to the host and bypass the gateway (its policy and audit do '
             'not apply)',
             'add a VirtualService for www.google.com bound to mesh whose route sends it to the '
             'egress gateway Service and subset, with a DestinationRule defining the subset '
             '(EgressRoute emits both)'),
            ('ServiceEntry default/google', 'spec.hosts[0]', 'www.google.com',
             'no VirtualService bound to Gateway default/istio-egressgateway routes www.google.com on'
             ' to the host, so the gateway accepts the connection but has no route for it',
             'add a VirtualService for www.google.com bound to Gateway default/istio-egressgateway '
             "whose route's destination host is www.google.com"),
        ],
        "egress-references-resolve": [],
        "egress-visibility": [],  # the unset/'*' exportTo is export-to-scoped's finding
    },
    # Istio's own layout: the gateway runs where its Service is, not where the Gateway is, so the
    # credentials are placed right; only the docs' unrouted 443 is a true bypass.
    "mtls-origination-docs-layout": {
        "egress-via-gateway": [unrouted_tls_port("default/nginx", "my-nginx.mesh-external.svc.cluster.local")],
        "egress-references-resolve": [], "egress-visibility": [],
    },
    # Flavours the rules do not model yet are not judged (objects.unmodelled_service_entries), not bypasses.
    "gateway-api-egress": {"egress-via-gateway": [], "egress-references-resolve": [], "egress-visibility": []},
    "ambient-waypoint-egress": {
        "egress-via-gateway": [], "egress-references-resolve": [], "egress-visibility": [],
    },
    # istiod takes the last unmerged DestinationRule without a selector, not the first.
    "subset-replaced-by-later-rule": {
        "egress-via-gateway": [],
        "egress-references-resolve": [
            ("VirtualService istio-system/egress-api-stripe-com", "spec.tls[0].route[0].destination.subset",
             "egress-api-stripe-com",
             "subset egress-api-stripe-com of istio-egressgateway.istio-system.svc.cluster.local is not defined where "
             "this route is used: in payments the DestinationRule Istio uses there (payments/egressgateway-pool) does "
             "not define it; requests on the route fail with 503",
             "define subset egress-api-stripe-com in a DestinationRule for "
             "istio-egressgateway.istio-system.svc.cluster.local that those namespaces see (EgressRoute puts one in "
             "each client namespace, exported to '.'), or fix the subset name"),
        ],
        "egress-visibility": [],
    },
    "duplicate-subset": {
        "egress-via-gateway": [],
        "egress-references-resolve": [
            ('DestinationRule payments/stripe-gateway-copy', 'spec.subsets[1].name', 'stripe',
             'subset stripe is also defined by DestinationRule payments/stripe-gateway; Istio merges '
             'the DestinationRules for istio-egressgateway.istio-system.svc.cluster.local that share '
             'a namespace and exportTo, and silently keeps only the first-created definition',
             'define the subset in one DestinationRule only, or rename one of them'),
        ],
        "egress-visibility": [],
    },
    "istio-docs-layout": {
        "egress-via-gateway": [unrouted_tls_port("default/cnn", "edition.cnn.com")],
        "egress-references-resolve": [
            ('VirtualService default/direct-cnn-through-egress-gateway', 'spec.http[0].route[0].destination.subset',
             'cnn',
             'subset cnn of istio-egressgateway.istio-system.svc.cluster.local is not defined where '
             'this route is used: in every other namespace no DestinationRule for the host is '
             'visible; requests on the route fail with 503',
             'define subset cnn in a DestinationRule for '
             'istio-egressgateway.istio-system.svc.cluster.local that those namespaces see '
             "(EgressRoute puts one in each client namespace, exported to '.'), or fix the subset "
             'name'),
        ],
        "egress-visibility": [],  # the unset/'*' exportTo is export-to-scoped's finding
    },
    "malformed": {
        "egress-via-gateway": [
            ('ServiceEntry shop/shop', 'spec.hosts[0]', 'api.shop.example',
             'mesh traffic for api.shop.example bypasses the egress gateway: VirtualService shop/junk'
             ' spec.http[1].route[2].destination sends it to api.shop.example, the external host '
             'itself; VirtualService shop/junk spec.tcp[0].route[0].destination sends it to '
             'db.shop.internal, not a Kubernetes Service of the mesh '
             '(<name>.<namespace>.svc.<domain>)',
             'route api.shop.example from mesh only to the egress gateway Service (e.g. '
             'istio-egressgateway.istio-system.svc.cluster.local), and on to the host from the '
             'Gateway'),
            ('ServiceEntry shop/shop', 'spec.hosts[0]', 'api.shop.example',
             'no VirtualService bound to Gateway shop/gw routes api.shop.example on to the host, so '
             'the gateway accepts the connection but has no route for it',
             "add a VirtualService for api.shop.example bound to Gateway shop/gw whose route's "
             'destination host is api.shop.example'),
        ],
        "egress-references-resolve": [
            ('VirtualService shop/junk', 'spec.gateways[3]', 'ghost',
             "Gateway shop/ghost does not exist in the stack (a short name is in the VirtualService's"
             ' namespace, shop), so these routes are bound to no gateway',
             'create Gateway shop/ghost, or name an existing Gateway as <namespace>/<name>'),
        ],
        "egress-visibility": [],  # the unset/'*' exportTo is export-to-scoped's finding
    },
    "many-namespaces": {
        "egress-via-gateway": [],
        "egress-references-resolve": [
            ('VirtualService istio-system/alpha', 'spec.tls[0].route[0].destination.subset', 'alpha',
             'subset alpha of istio-egressgateway.istio-system.svc.cluster.local is not defined where'
             ' this route is used: in team-2, team-3, team-4, team-5, team-6 the DestinationRule '
             'Istio uses there (team-2/other-gateway, team-3/other-gateway, team-4/other-gateway, '
             'team-5/other-gateway, team-6/other-gateway) does not define it; and in 1 more '
             'namespace; requests on the route fail with 503',
             'define subset alpha in a DestinationRule for '
             'istio-egressgateway.istio-system.svc.cluster.local that those namespaces see '
             "(EgressRoute puts one in each client namespace, exported to '.'), or fix the subset "
             'name'),
            ('VirtualService istio-system/beta', 'spec.tls[0].route[0].destination.subset', 'beta',
             'subset beta of istio-egressgateway.istio-system.svc.cluster.local is not defined where '
             'this route is used: in team-2, team-3, team-4, team-5, team-6 the DestinationRule Istio'
             ' uses there (team-2/other-gateway, team-3/other-gateway, team-4/other-gateway, '
             'team-5/other-gateway, team-6/other-gateway) does not define it; and in 2 more '
             'namespaces; requests on the route fail with 503',
             'define subset beta in a DestinationRule for '
             'istio-egressgateway.istio-system.svc.cluster.local that those namespaces see '
             "(EgressRoute puts one in each client namespace, exported to '.'), or fix the subset "
             'name'),
        ],
        "egress-visibility": [
            ('DestinationRule team-1/alpha-gateway', 'spec.exportTo', ['.'],
             'no DestinationRule defining egress gateway subset alpha of '
             'istio-egressgateway.istio-system.svc.cluster.local is visible from client namespaces '
             "team-2, team-3, team-4, team-5, team-6 and 1 more (Istio looks in the client's "
             'namespace, then for rules exported to it from istio-system), so sidecars there cannot '
             'route api.alpha.example to the gateway',
             'add a DestinationRule for istio-egressgateway.istio-system.svc.cluster.local with '
             "subset alpha to team-2, team-3, team-4, team-5, team-6 and 1 more, exported to '.'"),
        ],
    },
    "missing-gateway": {
        "egress-via-gateway": [
            ('ServiceEntry istio-system/stripe', 'spec.hosts[0]', 'api.stripe.com',
             'no VirtualService bound to Gateway istio-system/egress-api-stripe-com routes '
             'api.stripe.com on to the host, so the gateway accepts the connection but has no route '
             'for it',
             'add a VirtualService for api.stripe.com bound to Gateway '
             "istio-system/egress-api-stripe-com whose route's destination host is api.stripe.com"),
        ],
        "egress-references-resolve": [
            ('VirtualService istio-system/stripe', 'spec.gateways[1]', 'stripe-egress',
             'Gateway istio-system/stripe-egress does not exist in the stack (a short name is in the '
             "VirtualService's namespace, istio-system), so these routes are bound to no gateway",
             'create Gateway istio-system/stripe-egress, or name an existing Gateway as <namespace>/<name>'),
            ('VirtualService istio-system/stripe', 'spec.tls[1].match[0].gateways[0]', 'istio-system/stripe-egress',
             'Gateway istio-system/stripe-egress does not exist in the stack, so these routes are '
             'bound to no gateway',
             'create Gateway istio-system/stripe-egress, or name an existing Gateway as <namespace>/<name>'),
        ],
        "egress-visibility": [],
    },
    "missing-subset": {
        "egress-via-gateway": [],
        "egress-references-resolve": [
            ('VirtualService istio-system/stripe', 'spec.tls[0].route[0].destination.subset', 'stripe-v2',
             'subset stripe-v2 of istio-egressgateway.istio-system.svc.cluster.local is not defined '
             'where this route is used: in payments the DestinationRule Istio uses there '
             '(payments/stripe-gateway) does not define it; requests on the route fail with 503',
             'define subset stripe-v2 in a DestinationRule for '
             'istio-egressgateway.istio-system.svc.cluster.local that those namespaces see '
             "(EgressRoute puts one in each client namespace, exported to '.'), or fix the subset "
             'name'),
        ],
        "egress-visibility": [],
    },
    "origination-exported-everywhere": {
        "egress-via-gateway": [unrouted_tls_port("istio-system/github", "api.github.com")],
        "egress-references-resolve": [],
        "egress-visibility": [],  # the unset/'*' exportTo is export-to-scoped's finding
    },
    "origination-in-client-namespace": {
        "egress-via-gateway": [unrouted_tls_port("istio-system/github", "api.github.com")],
        "egress-references-resolve": [],
        "egress-visibility": [
            ('DestinationRule ci/github-origination', 'metadata.namespace', 'ci',
             'the DestinationRule originating TLS (SIMPLE) to api.github.com lives in namespace ci, '
             "not in the egress gateway's namespace istio-system: the gateway reads credentials only "
             'from its own namespace and does not see it, while it applies to the sidecars in ci '
             'instead',
             "move it to namespace istio-system, exported to '.' only"),
        ],
    },
    "root-namespace": {
        "egress-via-gateway": [],
        "egress-references-resolve": [
            ('VirtualService istio-system/stripe', 'spec.tls[0].route[0].destination.subset', 'stripe',
             'subset stripe of istio-egressgateway.istio-system.svc.cluster.local is not defined '
             'where this route is used: in payments no DestinationRule for the host is visible; '
             'requests on the route fail with 503',
             'define subset stripe in a DestinationRule for '
             'istio-egressgateway.istio-system.svc.cluster.local that those namespaces see '
             "(EgressRoute puts one in each client namespace, exported to '.'), or fix the subset "
             'name'),
        ],
        "egress-visibility": [
            ('DestinationRule istio-config/egress-subsets', 'spec.exportTo', ['*'],
             'no DestinationRule defining egress gateway subset stripe of '
             'istio-egressgateway.istio-system.svc.cluster.local is visible from client namespace '
             "payments (Istio looks in the client's namespace, then for rules exported to it from "
             'istio-system), so sidecars there cannot route api.stripe.com to the gateway',
             'add a DestinationRule for istio-egressgateway.istio-system.svc.cluster.local with '
             "subset stripe to payments, exported to '.'"),
        ],
    },
    "serviceentry-exported-everywhere": {
        "egress-via-gateway": [
            ('ServiceEntry istio-system/stripe', 'spec.hosts[0]', 'api.stripe.com',
             'ServiceEntry istio-system/stripe exports api.stripe.com to every namespace, but the '
             'VirtualService routing it to the egress gateway (istio-system/stripe) is not exported '
             'everywhere, so sidecars in the other namespaces bypass the gateway',
             "scope the ServiceEntry's exportTo to the client namespaces"),
        ],
        "egress-references-resolve": [],
        "egress-visibility": [],  # the unset/'*' exportTo is export-to-scoped's finding
    },
    "sidecar-origination": {
        "egress-via-gateway": [
            ('ServiceEntry default/cnn', 'spec.hosts[0]', 'edition.cnn.com',
             'mesh traffic for edition.cnn.com bypasses the egress gateway: VirtualService '
             'default/edition-cnn-com spec.http[0].route[0].destination sends it to edition.cnn.com, '
             'the external host itself',
             'route edition.cnn.com from mesh only to the egress gateway Service (e.g. '
             'istio-egressgateway.istio-system.svc.cluster.local), and on to the host from the '
             'Gateway'),
            ('ServiceEntry default/cnn', 'spec.hosts[0]', 'edition.cnn.com',
             'no Gateway serves edition.cnn.com, so the egress gateway has no listener for it',
             'add a Gateway selecting the egress gateway pods with a server for edition.cnn.com (TLS '
             'PASSTHROUGH when the app speaks TLS, HTTPS with ISTIO_MUTUAL when the gateway '
             'originates TLS)'),
        ],
        "egress-references-resolve": [],
        "egress-visibility": [],  # the unset/'*' exportTo is export-to-scoped's finding
    },
    "sni-mismatch": {
        "egress-via-gateway": [unrouted_tls_port("istio-system/github", "api.github.com")],
        "egress-references-resolve": [
            ('VirtualService istio-system/stripe', 'spec.tls[1].match[0].sniHosts[1]', 'www.stripe.com',
             'SNI host www.stripe.com is not served by Gateway istio-system/stripe (its servers take '
             'api.stripe.com), so the gateway never matches this route',
             "add www.stripe.com to a server's hosts of Gateway istio-system/stripe, or match the SNI"
             ' host it serves'),
            ('DestinationRule ci/github-gateway', 'spec.subsets[0].trafficPolicy.portLevelSettings[0].tls.sni',
             'github.com',
             'SNI github.com of egress gateway subset github is not a host that Gateway '
             'istio-system/github (bound by VirtualService istio-system/github) serves, so the '
             "gateway's ISTIO_MUTUAL server does not take the connection",
             'set sni to the external host the Gateway serves (api.github.com)'),
        ],
        "egress-visibility": [],
    },
    "subset-shadowed": {
        "egress-via-gateway": [],
        "egress-references-resolve": [
            ('VirtualService istio-system/stripe', 'spec.tls[0].route[0].destination.subset', 'stripe',
             'subset stripe of istio-egressgateway.istio-system.svc.cluster.local is not defined '
             'where this route is used: in payments the DestinationRule Istio uses there '
             '(payments/other-route) does not define it; requests on the route fail with 503',
             'define subset stripe in a DestinationRule for '
             'istio-egressgateway.istio-system.svc.cluster.local that those namespaces see '
             "(EgressRoute puts one in each client namespace, exported to '.'), or fix the subset "
             'name'),
        ],
        "egress-visibility": [],
    },
    "two-traffic-policies": {
        "egress-via-gateway": [],
        "egress-references-resolve": [
            ('DestinationRule istio-system/github-pool', 'spec.trafficPolicy', None,
             'DestinationRule istio-system/github-origination already has a top-level trafficPolicy; '
             'Istio merges the DestinationRules for api.github.com that share a namespace and '
             'exportTo, and silently keeps only the first-created policy',
             'put the policy in one DestinationRule for the host, or merge the two rules'),
        ],
        "egress-visibility": [],
    },
    "vs-not-visible-to-client": {
        "egress-via-gateway": [
            unrouted_tls_port("istio-system/github", "api.github.com"),
            ('ServiceEntry istio-system/github', 'spec.hosts[0]', 'api.github.com',
             'the VirtualService routing api.github.com to the egress gateway (istio-system/github) '
             'is not visible in builds, where ServiceEntry istio-system/github exports '
             'api.github.com, so sidecars there bypass the gateway',
             "add builds to the VirtualService's exportTo, or stop exporting the ServiceEntry there"),
        ],
        "egress-references-resolve": [],
        "egress-visibility": [
            ('VirtualService istio-system/github', 'spec.exportTo', ['.', 'ci'],
             'the VirtualService routing api.github.com to the egress gateway is not exported to '
             'client namespace builds, where ServiceEntry istio-system/github exports api.github.com,'
             ' so sidecars there bypass the gateway',
             'add builds to spec.exportTo'),
        ],
    },
    "wildcard-passthrough": {
        "egress-via-gateway": [],
        "egress-references-resolve": [],
        "egress-visibility": [],
    },
    "wrong-gateway-service": {
        "egress-via-gateway": [
            ('ServiceEntry istio-system/stripe', 'spec.hosts[0]', 'api.stripe.com',
             'mesh traffic for api.stripe.com bypasses the egress gateway: VirtualService '
             'istio-system/stripe spec.tls[0].route[0].destination sends it to '
             'istio-ingressgateway.istio-system.svc.cluster.local, its Service selects {app: '
             'istio-ingressgateway, istio: ingressgateway}, pods that no Gateway serving '
             'api.stripe.com configures (istio-system/stripe selects {istio: egressgateway})',
             'route api.stripe.com from mesh only to the egress gateway Service (e.g. '
             'istio-egressgateway.istio-system.svc.cluster.local), and on to the host from the '
             'Gateway'),
        ],
        "egress-references-resolve": [],
        "egress-visibility": [],
    },
}


@pytest.mark.parametrize("rule", MODULES)
@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_stack_case(case: str, rule: str) -> None:
    assert judge(rule, stack(case)) == EXPECTED[case][rule]


def test_every_stack_fixture_is_a_case_and_says_what_it_shows() -> None:
    assert sorted(EXPECTED) == [p.stem for p in STACKS]
    for path in STACKS:
        assert path.read_text().startswith("# "), f"{path.name} needs a comment saying what the case shows"


def test_root_namespace_comes_from_config() -> None:
    # root-namespace.yaml defines the subset in istio-config, exported to '*': with that as the
    # root namespace istiod finds it from payments, so only the scope finding remains, and that
    # one is export-to-scoped's.
    config = {"rootNamespace": "istio-config"}
    assert judge("egress-references-resolve", stack("root-namespace"), config) == []
    assert EXPECTED["root-namespace"]["egress-visibility"] != []
    assert judge("egress-visibility", stack("root-namespace"), config) == []


@pytest.mark.parametrize("rule", MODULES)
@pytest.mark.parametrize("manifests", [None, 42, "ServiceEntry", {"kind": "ServiceEntry"}, [], [None, [], 7]],
                         ids=["none", "int", "str", "mapping", "empty", "junk-items"])
def test_inputs_that_are_not_stacks_give_no_findings(rule: str, manifests: Any) -> None:
    assert judge(rule, manifests) == []
    assert judge(rule, manifests, {"rootNamespace": 5}) == []


def test_a_generator_is_a_stack_too() -> None:
    path = FIXTURES / "stacks" / "blog-recipe.yaml"
    assert judge("egress-via-gateway", yaml.safe_load_all(path.read_text())) == EXPECTED["blog-recipe"][
        "egress-via-gateway"]


# --- robustness: anything at all, no exception ------------------------------------------------------

_WORDS = st.sampled_from([
    "mesh", "*", ".", "~", "", "api.example.com", "*.example.com", "example", "istio-egressgateway",
    "istio-egressgateway.istio-system.svc.cluster.local", "istio-system", "payments", "istio-system/gw", "gw",
    "*/api.example.com", "./api.example.com", "MESH_EXTERNAL", "MESH_INTERNAL", "ISTIO_MUTUAL", "SIMPLE",
    "MUTUAL", "s1", "v1",
])
_KEYS = st.sampled_from([
    "hosts", "gateways", "http", "tls", "tcp", "match", "route", "destination", "host", "subset", "subsets",
    "name", "exportTo", "sniHosts", "servers", "selector", "location", "trafficPolicy", "portLevelSettings",
    "mode", "sni", "credentialName", "workloadSelector", "port", "number", "istio",
])
_LEAVES = st.none() | st.booleans() | st.integers(-1, 70000) | st.floats() | _WORDS
_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS | _WORDS, inner,
                                                                                             max_size=5),
                       max_leaves=40)
_MANIFESTS = st.fixed_dictionaries({
    "apiVersion": st.sampled_from(["networking.istio.io/v1", "networking.istio.io/v1beta1",
                                   "networking.istio.io/v1alpha3", "networking.istio.io/v2", "v1"]),
    "kind": st.sampled_from(["ServiceEntry", "Gateway", "VirtualService", "DestinationRule", "Service", "Sidecar"]),
    "metadata": st.fixed_dictionaries({}, optional={"name": _WORDS | _LEAVES, "namespace": _WORDS | _LEAVES})
    | _LEAVES,
    "spec": _VALUES,
})


def _all_rules_return_findings(manifests: Any, config: Any) -> None:
    for module in MODULES.values():
        for manifest, finding in module.RULE.check(manifests, config):
            assert isinstance(finding, Finding) and isinstance(manifest, dict)


@settings(max_examples=150, deadline=None)
@given(manifests=st.lists(_MANIFESTS | _VALUES, max_size=10), config=st.none() | st.dictionaries(_KEYS | _WORDS,
                                                                                                  _VALUES))
def test_random_objects_never_make_a_rule_raise(manifests: list[Any], config: Any) -> None:
    _all_rules_return_findings(manifests, config)


EVERY_FIXTURE = [m for path in ROUTES for m in route_stack(path)] + [m for p in STACKS for m in stack(p.stem)]


def _slots(value: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """(container, key) of every value inside ``value``."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        found.append((value, key))
        _slots(inner, found)
    return found


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_damaged_fixtures_never_make_a_rule_raise(data: st.DataObject) -> None:
    # Realistic stacks with a few values anywhere inside replaced by junk reach the deep code paths.
    manifests = copy.deepcopy(EVERY_FIXTURE)
    slots = _slots(manifests, [])
    for _ in range(data.draw(st.integers(1, 8))):
        container, key = data.draw(st.sampled_from(slots))
        container[key] = data.draw(_VALUES)
    _all_rules_return_findings(manifests, {})


@pytest.mark.parametrize(("export", "namespace", "scope"), [
    (None, "shop", {"*"}), ([], "shop", {"*"}), (".", "shop", {"*"}), ([7], "shop", {"*"}),
    (["*", "."], "shop", {"*"}), (["."], "shop", {"shop"}), ([".", "a", "shop"], "shop", {"shop", "a"}),
    (["~"], "shop", set()), (["~", "*"], "shop", {"*"}),
])
def test_export_scope(export: Any, namespace: str, scope: set[str]) -> None:
    manifest = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": "x", "namespace": namespace}, "spec": {"exportTo": export}}
    assert objects.exported_to(manifest) == scope


@pytest.mark.parametrize(("host", "patterns"), [
    ("a.b.example.com", ["a.b.example.com", "*.b.example.com", "*.example.com", "*.com", "*"]),
    ("*.example.com", ["*.example.com", "*.com", "*"]),
    ("localhost", ["localhost", "*"]),
    ("*", ["*"]),
])
def test_covering_patterns_agree_with_host_matches(host: str, patterns: list[str]) -> None:
    assert objects.covering_patterns(host) == patterns
    assert all(objects.host_matches(p, host) for p in patterns)


# --- scale: the work grows linearly with the stack ------------------------------------------------

NAMESPACES = ("payments", "ci", "builds")
BASE = route_stack(FIXTURES / "routes" / "passthrough.yaml") + route_stack(FIXTURES / "routes" /
                                                                            "simple-origination.yaml")


def _renamed(value: Any, i: int, words: tuple[tuple[str, str], ...], scoped: bool) -> Any:
    if isinstance(value, dict):
        return {k: _renamed(v, i, words, scoped) for k, v in value.items() if scoped or k != "exportTo"}
    if isinstance(value, list):
        return [_renamed(v, i, words, scoped) for v in value]
    if isinstance(value, str):
        if value in NAMESPACES:
            return f"{value}-{i}"
        for old, new in words:
            value = value.replace(old, new.format(i))
    return value


DISTINCT = (("stripe", "stripe{}"), ("github", "github{}"))
"""Every route its own host, names and client namespaces."""
SHARED_HOST = (("api-stripe-com", "api-stripe-com-{}"), ("api-github-com", "api-github-com-{}"))
"""Every route for the same two hosts and gateway Service: the indexes' worst case."""


def scaled(routes: int, words: tuple[tuple[str, str], ...], scoped: bool = True,
           central: bool = False) -> list[Manifest]:
    """``routes`` copies of the passthrough and SIMPLE-origination routes: 13 objects each. ``central``
    moves the gateway DestinationRules from the client namespaces to istio-system, each exported to
    its client namespace (Istio finds them there, in the gateway Service's namespace)."""
    manifests = [_renamed(m, i, words, scoped) for i in range(routes) for m in BASE]
    for m in manifests if central else ():
        if m["kind"] == "DestinationRule" and m["spec"]["host"].endswith(".svc.cluster.local"):
            client = m["metadata"]["namespace"]
            m["metadata"] = {"name": f"{m['metadata']['name']}-{client}", "namespace": "istio-system"}
            m["spec"]["exportTo"] = [client]
    return manifests


def python_calls(run: Callable[[], object]) -> int:
    calls = 0

    def count(frame: FrameType, event: str, arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        run()
    finally:
        sys.setprofile(None)
    return calls


@pytest.mark.parametrize("rule", MODULES)
@pytest.mark.parametrize(("words", "scoped", "central"), [
    (DISTINCT, True, False), (SHARED_HOST, True, False), (SHARED_HOST, False, False), (SHARED_HOST, True, True),
], ids=["distinct-hosts", "one-host", "one-host-unscoped", "one-host-central-rules"])
def test_work_grows_linearly_with_the_stack(rule: str, words: tuple[tuple[str, str], ...], scoped: bool,
                                            central: bool) -> None:
    # Counting Python calls instead of timing: four times the objects must cost about four times the calls.
    check = MODULES[rule].RULE.check
    small, large = scaled(50, words, scoped, central), scaled(200, words, scoped, central)
    assert len(large) == 4 * len(small) == 2600
    ratio = python_calls(lambda: check(large, {})) / python_calls(lambda: check(small, {}))
    assert ratio < 4.4, f"{rule}: 4x the objects took {ratio:.2f}x the calls"


@pytest.mark.parametrize("rule", MODULES)
@pytest.mark.parametrize("central", [False, True], ids=["client-rules", "central-rules"])
def test_thirteen_thousand_objects(rule: str, central: bool) -> None:
    manifests = scaled(1000, DISTINCT, central=central)
    assert len(manifests) == 13_000
    assert judge(rule, manifests) == []
