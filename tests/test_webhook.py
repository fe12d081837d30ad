"""pulumi_istio_egress.webhook: istiod's validating-webhook rules, judged before apply.

The table of cases lives in ``fixtures/webhook/cases/*.yaml``: every document is a manifest with the
complete list of findings it must produce. ``fixtures/webhook/patterns/*.yaml`` holds the egress
resource sets of the istio.io tasks, which istiod accepts, so they must produce none.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulumi_istio_egress.findings import Finding
from pulumi_istio_egress.webhook import WEBHOOK_KINDS, webhook_findings

FIXTURES = Path(__file__).parent / "fixtures" / "webhook"
# Istio's own CRD test inputs (pkg/config/validation/testdata/crds at 1.30.3), kept outside the repo.
UPSTREAM = Path(os.environ.get("ISTIO_UPSTREAM_TESTDATA", "/work/shared/reference/istio-crds/upstream-testdata"))


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _cases() -> Iterator[Any]:
    for path in sorted((FIXTURES / "cases").glob("*.yaml")):
        for doc in _load_all(path):
            case, expected = doc.pop("_case"), doc.pop("_findings")
            yield pytest.param(doc, [Finding(**f) for f in expected], id=f"{path.stem}: {case}")


@pytest.mark.parametrize(("manifest", "expected"), list(_cases()))
def test_case(manifest: dict[str, Any], expected: list[Finding]) -> None:
    before = copy.deepcopy(manifest)
    assert webhook_findings(manifest) == expected
    assert manifest == before  # the checks only read


def _pattern_objects() -> Iterator[Any]:
    for path in sorted((FIXTURES / "patterns").glob("*.yaml")):
        for doc in _load_all(path):
            yield pytest.param(doc, id=f"{path.stem}: {doc['kind']} {doc['metadata']['name']}")


PATTERN_OBJECTS = [p.values[0] for p in _pattern_objects()]


@pytest.mark.parametrize("manifest", list(_pattern_objects()))
def test_egress_pattern_objects_are_accepted(manifest: dict[str, Any]) -> None:
    assert webhook_findings(manifest) == []


def test_patterns_cover_every_kind() -> None:
    assert {m["kind"] for m in PATTERN_OBJECTS} == WEBHOOK_KINDS


# -- Istio's upstream CRD test vectors -----------------------------------------------------------

needs_upstream = pytest.mark.skipif(not UPSTREAM.is_dir(), reason=f"no upstream test data at {UPSTREAM}")


def _upstream(name: str) -> list[dict[str, Any]]:
    # PyYAML reads the flow item `001:db8::` as a mapping (Go's YAML reads a string); quote it.
    text = (UPSTREAM / name).read_text().replace("001:db8::", '"001:db8::"')
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _upstream_valid() -> Iterator[Any]:
    if not UPSTREAM.is_dir():
        return
    for path in sorted(UPSTREAM.glob("*-valid.yaml")):
        for i, doc in enumerate(_upstream(path.name)):
            yield pytest.param(doc, id=f"{path.name}[{i}] {doc['kind']} {doc['metadata']['name']}")


@needs_upstream
@pytest.mark.parametrize("manifest", list(_upstream_valid()))
def test_upstream_valid_documents_are_accepted(manifest: dict[str, Any]) -> None:
    # Every `-valid` document there is also accepted by istiod's webhook (none needed an exception).
    assert webhook_findings(manifest) == []


# The `-invalid` documents for our kinds, with the webhook's findings. The CRD schema/CEL rejects
# them first (their `_err`); istiod's webhook would reject each of them as well.
UPSTREAM_INVALID: dict[tuple[str, int], list[str]] = {
    ("serviceentry-invalid.yaml", 0): ["service entry must have at least one host"],
    ("serviceentry-invalid.yaml", 1): ["service entry must have at least one host"],
    ("serviceentry-invalid.yaml", 2): ['wildcard is not supported in selector: "val=*"'],
    ("serviceentry-invalid.yaml", 3): [
        "only one of WorkloadSelector or Endpoints is allowed in Service Entry",
        "no endpoints should be provided for resolution type none",
    ],
    ("serviceentry-invalid.yaml", 4): ["invalid host *"],
    ("serviceentry-invalid.yaml", 5): ["CIDR addresses are allowed only for NONE/STATIC resolution types"],
    ("serviceentry-invalid.yaml", 6): ['service entry port name "a" already defined'],
    ("serviceentry-invalid.yaml", 7): ["service entry port 1 already defined"],
    ("serviceentry-invalid.yaml", 8): ["port number 99999 must be in the range 1..65535"],
    ("serviceentry-invalid.yaml", 9): ["port number 99999 must be in the range 1..65535"],
    ("serviceentry-invalid.yaml", 10): ["no endpoints should be provided for resolution type none"],
    ("serviceentry-invalid.yaml", 11): ["there must only be 0 or 1 endpoint for resolution mode DNS_ROUND_ROBIN"],
    ("destinationrule-invalid.yaml", 0): ["minimumPercent value should be less than or equal to 100"],
    ("destinationrule-invalid.yaml", 1): ["duration is required"],
    ("destinationrule-invalid.yaml", 2): ["aggression should be greater than or equal to 1"],
    ("authz-invalid.yaml", 0): ["cannot set serviceAccounts with namespaces or principals, found at rule 0"],
    ("authz-invalid.yaml", 1): ["cannot set serviceAccounts with namespaces or principals, found at rule 0"],
}


@needs_upstream
def test_upstream_invalid_documents_are_all_listed() -> None:
    listed = {
        (path.name, i)
        for path in UPSTREAM.glob("*-invalid.yaml")
        for i, doc in enumerate(_upstream(path.name))
        if doc["kind"] in WEBHOOK_KINDS
    }
    assert listed == set(UPSTREAM_INVALID)


@needs_upstream
@pytest.mark.parametrize(("name", "index"), sorted(UPSTREAM_INVALID), ids=lambda v: str(v))
def test_upstream_invalid_documents_are_rejected(name: str, index: int) -> None:
    doc = _upstream(name)[index]
    doc.pop("_err")
    assert [f.message for f in webhook_findings(doc)] == UPSTREAM_INVALID[(name, index)]


# -- dispatch ----------------------------------------------------------------------------------


def test_webhook_kinds() -> None:
    assert (
        frozenset({"ServiceEntry", "Gateway", "DestinationRule", "VirtualService", "Sidecar", "AuthorizationPolicy"})
        == WEBHOOK_KINDS
    )


@pytest.mark.parametrize(
    "manifest",
    [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"a": "b"}},
        {"apiVersion": "networking.istio.io/v1", "kind": "EnvoyFilter", "spec": {"bogus": 1}},
        {"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "spec": []},
        {"apiVersion": "networking.istio.io/v1", "kind": "AuthorizationPolicy", "spec": {"action": "NOPE"}},
        {"apiVersion": "security.istio.io/v1", "kind": "Gateway", "spec": {"servers": 1}},
        {"kind": "Gateway", "spec": {"servers": 1}},
        {"apiVersion": 1, "kind": "Gateway", "spec": {"servers": 1}},
        {"apiVersion": "networking.istio.io/v1", "kind": ["Gateway"], "spec": {"servers": 1}},
        {},
    ],
    ids=[
        "ConfigMap",
        "EnvoyFilter",
        "PeerAuthentication",
        "wrong group",
        "wrong group 2",
        "no apiVersion",
        "numeric apiVersion",
        "list kind",
        "empty",
    ],
)
def test_other_objects_are_not_judged(manifest: dict[str, Any]) -> None:
    assert webhook_findings(manifest) == []


@pytest.mark.parametrize("manifest", [None, [], "Gateway", 5, b"x", ["kind", "Gateway"]])
def test_non_mappings_are_not_judged(manifest: Any) -> None:
    assert webhook_findings(manifest) == []


# -- robustness --------------------------------------------------------------------------------


def _assert_clean_run(manifest: Any) -> list[Finding]:
    findings = webhook_findings(manifest)
    assert isinstance(findings, list)
    assert all(isinstance(f, Finding) for f in findings)
    assert not [f for f in findings if "stopped early" in f.message], findings
    for f in findings:
        assert f.message and f.fix and isinstance(f.path, str)
        f.render()
    return findings


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, (*prefix, i))


def _replace(manifest: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(manifest)
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


_CASE_MANIFESTS = [p.values[0] for p in _cases()]
_VOCABULARY = sorted(
    {key for doc in _CASE_MANIFESTS + PATTERN_OBJECTS for path in _paths(doc) for key in path if isinstance(key, str)}
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "",
            "*",
            "*.a.b",
            "a/b",
            "ns/*",
            "~",
            ".",
            "mesh",
            "10.0.0.0/8",
            "unix:///x",
            "1s",
            "SIMPLE",
            "ISTIO_MUTUAL",
            "DNS",
            "HTTPS",
            "CUSTOM",
            "DENY",
            "configmap://a/b",
            "%x",
            "@request.auth.claims.a",
        ]
    )
)
# JSON-like values whose object keys are real Istio field names, so the checks get deep into them.
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_VOCABULARY), inner, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(_CASE_MANIFESTS + PATTERN_OBJECTS), data=st.data())
def test_a_value_of_any_shape_anywhere_does_not_break_the_checks(base: dict[str, Any], data: st.DataObject) -> None:
    paths = list(_paths(base))
    path = data.draw(st.sampled_from(paths))
    _assert_clean_run(_replace(base, path, data.draw(_JSON)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(WEBHOOK_KINDS)), spec=_JSON, metadata=_JSON)
def test_random_specs_do_not_break_the_checks(kind: str, spec: Any, metadata: Any) -> None:
    group = "security.istio.io" if kind == "AuthorizationPolicy" else "networking.istio.io"
    _assert_clean_run({"apiVersion": f"{group}/v1", "kind": kind, "metadata": metadata, "spec": spec})


@pytest.mark.parametrize(
    "manifest",
    [
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "spec": {"servers": [{"port": None, "tls": None}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "spec": {"servers": [[]]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "spec": {"http": [{"match": [[1]]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "spec": {"tls": [{"match": "x"}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "spec": {"trafficPolicy": []}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "spec": {"egress": [{"port": {"number": {}}}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "spec": {"endpoints": [{"ports": []}]}},
        {"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "spec": {"rules": [{"when": [[]]}]}},
        {"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"annotations": []}, "spec": None},
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "ServiceEntry",
            "spec": {"hosts": ["\x00", "é.example", "a" * 300]},
        },
    ],
    ids=[
        "null port and tls",
        "list as server",
        "list as match",
        "string as matches",
        "list as traffic policy",
        "object as port number",
        "list as endpoint ports",
        "list as condition",
        "list as annotations",
        "odd host strings",
    ],
)
def test_malformed_shapes(manifest: dict[str, Any]) -> None:
    assert _assert_clean_run(manifest)


def _vs(hosts: list[str], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "vs", "namespace": "apps"},
        "spec": {"hosts": hosts, **spec},
    }


def test_huge_lists_stay_fast() -> None:
    hosts = [f"h{i}.example.com" for i in range(20_000)] + ["*.example.com", "*.com"] * 50
    big_vs = _vs(
        hosts, gateways=["istio-system/egw"], http=[{"route": [{"destination": {"host": "a.example.com"}}]}] * 2000
    )
    big_se = {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "spec": {"hosts": hosts, "ports": [{"number": i % 70_000, "name": f"p{i % 500}"} for i in range(20_000)]},
    }
    big_ap = {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "spec": {"rules": [{"from": [{"source": {"principals": ["a"] * 50}}], "when": [{"key": "x"}]}] * 5_000},
    }
    for manifest in (big_vs, big_se, big_ap):
        start = time.perf_counter()
        findings = _assert_clean_run(manifest)
        assert time.perf_counter() - start < 10
        assert findings
    duplicates = [f for f in webhook_findings(big_vs) if f.message.startswith("duplicate hosts")]
    assert len(duplicates) == 100  # pairwise reports stop at 100


# -- host overlap checks agree with istiod's pairwise definitions --------------------------------


def host_matches(a: str, b: str) -> bool:
    """istiod's ``host.Name.Matches``, pair by pair: the hosts (wildcards included) overlap."""
    if a.startswith("*") and b.startswith("*"):
        short, long = sorted((a, b), key=len)
        return long[1:].endswith(short[1:])
    if a.startswith("*"):
        return b.endswith(a[1:])
    if b.startswith("*"):
        return a.endswith(b[1:])
    return a == b


def host_subset_of(a: str, b: str) -> bool:
    """istiod's ``host.Name.SubsetOf``: every name ``a`` matches is matched by ``b``."""
    if a.startswith("*"):
        return b.startswith("*") and len(a) >= len(b) and a[1:].endswith(b[1:])
    if b.startswith("*"):
        return a.endswith(b[1:])
    return a == b


_LABEL = st.sampled_from(["a", "b", "ab", "ba", "x"])
_HOST = st.builds(
    lambda prefix, labels: prefix + ".".join(labels),
    st.sampled_from(["", "*.", "*", "*a"]),
    st.lists(_LABEL, min_size=1, max_size=3),
) | st.just("*")


@settings(max_examples=300, deadline=None)
@given(hosts=st.lists(_HOST, max_size=8))
def test_duplicate_hosts_are_the_overlapping_pairs(hosts: list[str]) -> None:
    manifest = _vs(hosts, gateways=["istio-system/egw"], http=[{"route": [{"destination": {"host": "a.b"}}]}])
    found = {(f.path, f.message) for f in webhook_findings(manifest) if f.message.startswith("duplicate hosts")}
    expected = {
        (f"spec.hosts[{j}]", f"duplicate hosts in virtual service: {hosts[i]} & {hosts[j]}")
        for i in range(len(hosts))
        for j in range(i + 1, len(hosts))
        if host_matches(hosts[i], hosts[j])
    }
    assert found == expected


@settings(max_examples=300, deadline=None)
@given(hosts=st.lists(_HOST, min_size=1, max_size=5), sni=st.lists(_HOST, min_size=1, max_size=5))
def test_sni_hosts_must_be_covered_by_the_virtual_service_hosts(hosts: list[str], sni: list[str]) -> None:
    tls = [{"match": [{"sniHosts": sni}], "route": [{"destination": {"host": "a.b"}}]}]
    manifest = _vs(hosts, gateways=["istio-system/egw"], tls=tls)
    flagged = {f.value for f in webhook_findings(manifest) if "is not a compatible subset" in f.message}
    assert flagged == {s for s in sni if not any(host_subset_of(s, h) for h in hosts)}


# -- pulumi-policy hands resources over as read-only proxies --------------------------------------


def test_pulumi_policy_proxies_are_read_like_plain_values() -> None:
    from pulumi_policy.proxy import unknown_checking_proxy

    for manifest in PATTERN_OBJECTS:
        assert webhook_findings(unknown_checking_proxy(copy.deepcopy(manifest))) == []
    bad = _vs(["*"], http=[{"route": [{"destination": {"host": "a.example.com"}}]}])
    assert [f.message for f in webhook_findings(unknown_checking_proxy(bad))] == [
        "wildcard host * is not allowed for virtual services bound to the mesh gateway"
    ]


def test_unknown_values_during_preview_reach_pulumi_policy() -> None:
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

    manifest = _vs([UNKNOWN_STRING_VALUE], http=[{"route": [{"destination": {"host": "a.example.com"}}]}])
    with pytest.raises(UnknownValueError):
        webhook_findings(unknown_checking_proxy(manifest))
