"""One finding per fact (issue 9): a fact two rules, or two layers of one rule, see is reported once.

- "this egress object is visible in every namespace" is export-to-scoped's; egress-visibility
  reports the scope only of egress objects the stack alone reveals.
- a value both istio-valid layers refuse is reported once, in the CRD layer's words (the API server
  validates against the CRD before it calls istiod's webhook).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.findings import Finding, object_ref
from pulumi_istio_egress.policies import egress_visibility, export_scope, istio_valid

FIXTURES = Path(__file__).parent / "fixtures"
STACKS = [*sorted((FIXTURES / "stacks").glob("*.yaml")), FIXTURES / "facts" / "stack-only-scope.yaml"]
CRD_FILE = str(Path(__file__).parents[2] / "shared" / "reference" / "istio-crds" / "crd-all.gen.yaml")


def documents(path: Path) -> list[Any]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


@pytest.mark.parametrize("path", STACKS, ids=[p.stem for p in STACKS])
def test_everywhere_scope_is_reported_by_one_rule(path: Path) -> None:
    manifests = documents(path)
    by_resource_rule = {object_ref(m) for m in manifests if list(export_scope.check(m, {}))}
    by_stack_rule = {object_ref(m) for m, f in egress_visibility.check(manifests, {})
                     if f.path == "spec.exportTo" and "every namespace" in f.message}
    assert by_resource_rule & by_stack_rule == set()


def test_egress_visibility_keeps_the_scope_only_the_stack_reveals() -> None:
    manifests = documents(FIXTURES / "facts" / "stack-only-scope.yaml")
    assert [(object_ref(m), f.path, f.value, f.message, f.fix) for m, f in egress_visibility.check(manifests, {})] == [
        ("VirtualService egress/partner-mesh", "spec.exportTo", None,
         "the VirtualService routing api.partner.example to the egress gateway is not scoped: unset exportTo shows "
         "it to every namespace", "set exportTo to '.' and the client namespaces that use the route"),
        ("DestinationRule egress/partner-subset", "spec.exportTo", None,
         "the DestinationRule defining egress gateway subset partner of partner-egress.egress.svc.cluster.local is "
         "not scoped: unset exportTo shows it to every namespace",
         "export it to '.' in each client namespace (EgressRoute creates one per client namespace)"),
    ]
    assert [(object_ref(m), f) for m in manifests for f in export_scope.check(m, {})] == [
        ("ServiceEntry egress/partner", Finding("spec.exportTo", None,
                                                "unset exportTo exports the object to every namespace's sidecars "
                                                "(ztunnel and waypoints ignore exportTo: it never scopes ambient "
                                                "clients)",
                                                "set exportTo to '.' and the client namespaces that need it")),
    ]


ORIGINATION = {"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule",
               "metadata": {"name": "github-origination", "namespace": "istio-system"},
               "spec": {"host": "api.github.com", "trafficPolicy": {"tls": {"mode": "SIMPLE"}}}}


@pytest.mark.parametrize(("export", "expected"), [
    (None, [Finding("spec.exportTo", None, "unset exportTo exports the object to every namespace",
                    export_scope.FIX_ORIGINATING)]),
    (["*"], [Finding("spec.exportTo[0]", "*", "'*' exports the object to every namespace",
                     export_scope.FIX_ORIGINATING)]),
    (".", [Finding("spec.exportTo", ".", "an exportTo without namespace names (read as unset) exports the object "
                   "to every namespace", export_scope.FIX_ORIGINATING)]),
    (["."], []),
], ids=["unset", "star", "not-a-list", "scoped"])
def test_export_to_scoped_gives_an_originating_rule_its_own_fix(export: Any,
                                                                              expected: list[Finding]) -> None:
    # It owns the fact now, so its fix must not send clients a rule only the gateway may see.
    manifest = {**ORIGINATION, "spec": {**ORIGINATION["spec"], "exportTo": export}}
    assert list(export_scope.check(manifest, {})) == expected


BAD_ENTRY = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
             "metadata": {"name": "x", "namespace": "egress"},
             "spec": {"hosts": [], "resolution": "DNS", "ports": [{"number": 99999, "name": "tls", "protocol": "TLS"}]}}


@pytest.mark.parametrize(("config", "expected"), [
    ({"crdFiles": []}, [
        Finding("spec.hosts", None, "service entry must have at least one host",
                "List the external host names, e.g. ['api.example.com']"),
        Finding("spec.ports[0].number", 99999, "port number 99999 must be in the range 1..65535",
                "Use a port number from 1 to 65535"),
    ]),
    ({"crdFiles": [os.environ.get("ISTIO_CRDS", CRD_FILE)]}, [
        Finding("spec.hosts", [], "Invalid value: 0: spec.hosts in body should have at least 1 items",
                "Give it at least 1 item"),
        Finding("spec.ports[0].number", 99999, 'Invalid value: "integer": port must be between 1-65535',
                "Change spec.ports[0].number so that the rule `0 < self && self <= 65535` holds"),
    ]),
], ids=["webhook layer only", "both layers: each value once"])
def test_istio_valid_reports_each_refused_value_once(config: dict[str, Any], expected: list[Finding],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISTIO_CRDS", raising=False)
    assert list(istio_valid.RULE.check(BAD_ENTRY, config)) == expected


def test_a_note_that_refuses_no_value_never_replaces_a_webhook_finding() -> None:
    webhook = [Finding("spec", "x", "must be of type object, not string", "fix it")]
    note = Finding("spec", None, "some validation rules were not checked because the object was invalid; correct the "
                   "existing errors to complete validation", "Fix the errors above, then validate again")
    assert istio_valid.one_per_value(webhook, [note]) == [*webhook, note]
