"""egress-visibility on the namespace of an originating DestinationRule: where istiod's lookup from
the gateway's namespace finds the rule (PushContext.destinationRule, push_context.go) and the rule
reads no Secret (pilot/pkg/xds/sds.go reads them from the gateway pod's namespace only), its
namespace is not wrong. Built on Istio's TLS-origination task (fixtures/istio-docs/classic)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.findings import object_ref
from pulumi_istio_egress.policies import egress_visibility

TASK = Path(__file__).parent / "fixtures" / "istio-docs" / "classic" / "gateway-tls-origination.yaml"
RULE = "DestinationRule default/originate-tls-for-edition-cnn-com"


def task(**tls: Any) -> list[dict[str, Any]]:
    """The task's objects, the originating rule's port-level TLS and exportTo changed by ``tls``."""
    docs = [d for d in yaml.safe_load_all(TASK.read_text()) if d]
    out = copy.deepcopy(docs)
    rule = next(d for d in out if d["metadata"]["name"] == "originate-tls-for-edition-cnn-com")
    export = tls.pop("exportTo", None)
    if export is not None:
        rule["spec"]["exportTo"] = export
    rule["spec"]["trafficPolicy"]["portLevelSettings"][0]["tls"].update(tls)
    return out


def elsewhere(what: str) -> tuple[str, str, Any, str, str]:
    return (RULE, "metadata.namespace", "default",
            f"the DestinationRule {what} lives in namespace default, not in the egress gateway's namespace "
            "istio-system: the gateway reads credentials only from its own namespace and does not see it, while it "
            "applies to the sidecars in default instead", "move it to namespace istio-system, exported to '.' only")


CASES = [
    ("SIMPLE exported everywhere from the host's namespace: found", task(), []),
    ("SIMPLE exported to the gateway's namespace: found", task(exportTo=[".", "istio-system"]), [
        (RULE, "spec.exportTo", [".", "istio-system"],
         "the DestinationRule originating TLS (SIMPLE) to edition.cnn.com is exported beyond its namespace, to "
         "istio-system: only the egress gateway needs it, and sidecars that see it would originate TLS themselves",
         "set exportTo to ['.'] and keep the rule in the egress gateway's namespace")]),
    ("SIMPLE exported to '.' only: the gateway does not find it", task(exportTo=["."]),
     [elsewhere("originating TLS (SIMPLE) to edition.cnn.com")]),
    ("a credentialName is read from the gateway's namespace", task(credentialName="cnn-ca"),
     [elsewhere("originating TLS (SIMPLE) to edition.cnn.com")]),
]


@pytest.mark.parametrize(("manifests", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_gateway_finds_the_originating_rule(manifests: list[dict[str, Any]],
                                            expected: list[tuple[str, str, Any, str, str]]) -> None:
    found = egress_visibility.check(manifests, {})
    assert [(object_ref(m), f.path, f.value, f.message, f.fix) for m, f in found if object_ref(m) == RULE] == expected
