"""CrdSet must judge manifests as the Kubernetes API server does with Istio's CRDs installed.

The CRDs come from ``$ISTIO_CRDS`` (default: ``../shared/reference/istio-crds/crd-all.gen.yaml``
from the repo root); Istio's own apiserver test vectors from ``upstream-testdata/`` next to them
(``$ISTIO_CRDS_TESTDATA`` overrides). Missing inputs fail the tests: they never skip.
"""

from __future__ import annotations

import copy
import functools
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.conformance import (
    COULD_NOT_EVALUATE,
    DEFAULT_CRDS_ENV,
    RULES_NOT_CHECKED,
    CrdSet,
    crds_from_env,
    is_unevaluated,
)
from pulumi_istio_egress.findings import Finding
from pulumi_istio_egress.policies import istio_valid

REPO_ROOT = Path(__file__).resolve().parents[1]
CRDS_PATH = Path(os.environ.get(DEFAULT_CRDS_ENV) or REPO_ROOT.parent / "shared/reference/istio-crds/crd-all.gen.yaml")
UPSTREAM_DIR = Path(os.environ.get("ISTIO_CRDS_TESTDATA") or CRDS_PATH.parent / "upstream-testdata")
WIDGETS_PATH = Path(__file__).parent / "fixtures/conformance/widgets-crd-list.yaml"


@functools.cache
def _load(path: Path) -> CrdSet:
    return CrdSet.load(path)


def istio_crds() -> CrdSet:
    """Istio's CRDs; a missing file is a test failure, not a skip."""
    if not CRDS_PATH.is_file():
        pytest.fail(
            f"Istio CRDs not found at {CRDS_PATH}: set ${DEFAULT_CRDS_ENV} to Istio's crd-all.gen.yaml",
            pytrace=False,
        )
    return _load(CRDS_PATH)


def widget_crds() -> CrdSet:
    return _load(WIDGETS_PATH)


def edit(manifest: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of ``manifest`` with ``{"spec.ports[0].number": 0, ...}`` applied (... deletes)."""
    out = copy.deepcopy(manifest)
    for path, value in changes.items():
        steps: list[str | int] = [int(i) if i else k for k, i in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)]
        node: Any = out
        for step in steps[:-1]:
            node = node[step]
        if value is ...:
            del node[steps[-1]]
        else:
            node[steps[-1]] = value
    return out


# ---------------------------------------------------------------------------------------------
# Valid egress manifests, one per kind that matters
# ---------------------------------------------------------------------------------------------

SERVICE_ENTRY: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "ServiceEntry",
    "metadata": {"name": "httpbin-ext", "namespace": "egress"},
    "spec": {
        "hosts": ["httpbin.org"],
        "ports": [
            {"number": 443, "name": "tls", "protocol": "TLS"},
            {"number": 80, "name": "http", "protocol": "HTTP"},
        ],
        "resolution": "DNS",
        "location": "MESH_EXTERNAL",
        "exportTo": ["."],
    },
}
GATEWAY: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Gateway",
    "metadata": {"name": "egress-gw", "namespace": "istio-egress"},
    "spec": {
        "selector": {"istio": "egressgateway"},
        "servers": [
            {
                "port": {"number": 443, "name": "tls", "protocol": "TLS"},
                "hosts": ["httpbin.org"],
                "tls": {"mode": "ISTIO_MUTUAL"},
            }
        ],
    },
}
DESTINATION_RULE: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "DestinationRule",
    "metadata": {"name": "egress-gw", "namespace": "istio-egress"},
    "spec": {
        "host": "istio-egressgateway.istio-egress.svc.cluster.local",
        "subsets": [
            {
                "name": "httpbin",
                "trafficPolicy": {
                    "portLevelSettings": [
                        {"port": {"number": 443}, "tls": {"mode": "ISTIO_MUTUAL", "sni": "httpbin.org"}}
                    ]
                },
            }
        ],
        "trafficPolicy": {"connectionPool": {"tcp": {"connectTimeout": "5s"}}},
    },
}
VIRTUAL_SERVICE: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "httpbin-egress", "namespace": "istio-egress"},
    "spec": {
        "hosts": ["httpbin.org"],
        "gateways": ["mesh", "istio-egress/egress-gw"],
        "tls": [
            {
                "match": [{"gateways": ["mesh"], "port": 443, "sniHosts": ["httpbin.org"]}],
                "route": [
                    {
                        "destination": {
                            "host": "istio-egressgateway.istio-egress.svc.cluster.local",
                            "subset": "httpbin",
                            "port": {"number": 443},
                        }
                    }
                ],
            },
            {
                "match": [{"gateways": ["istio-egress/egress-gw"], "port": 443, "sniHosts": ["httpbin.org"]}],
                "route": [{"destination": {"host": "httpbin.org", "port": {"number": 443}}, "weight": 100}],
            },
        ],
        "http": [
            {
                "match": [{"uri": {"prefix": "/"}}],
                "route": [{"destination": {"host": "httpbin.org"}}],
                "timeout": "10s",
                "retries": {"attempts": 3, "perTryTimeout": "2s"},
            }
        ],
    },
}
AUTHORIZATION_POLICY: dict[str, Any] = {
    "apiVersion": "security.istio.io/v1",
    "kind": "AuthorizationPolicy",
    "metadata": {"name": "egress-allow", "namespace": "istio-egress"},
    "spec": {
        "selector": {"matchLabels": {"istio": "egressgateway"}},
        "action": "ALLOW",
        "rules": [
            {
                "from": [{"source": {"principals": ["cluster.local/ns/app/sa/client"]}}],
                "to": [{"operation": {"hosts": ["httpbin.org"], "ports": ["443"]}}],
            }
        ],
    },
}
SIDECAR: dict[str, Any] = {
    "apiVersion": "networking.istio.io/v1",
    "kind": "Sidecar",
    "metadata": {"name": "default", "namespace": "app"},
    "spec": {
        "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        "egress": [{"hosts": ["./*", "istio-system/*", "istio-egress/*"]}],
    },
}
VALID = [SERVICE_ENTRY, GATEWAY, DESTINATION_RULE, VIRTUAL_SERVICE, AUTHORIZATION_POLICY, SIDECAR]


def cel_fix(path: str, rule: str) -> str:
    return f"Change {path} so that the rule `{rule}` holds"


def not_checked(path: str) -> Finding:
    return Finding(path, None, RULES_NOT_CHECKED, "Fix the errors above, then validate again")


PORT_RULE = "0 < self && self <= 65535"
DURATION_RULE = "duration(self) >= duration('1ms')"
CONNECT_TIMEOUT = "spec.trafficPolicy.connectionPool.tcp.connectTimeout"

ISTIO_CASES = [
    *(pytest.param(m, [], id=f"valid-{m['kind']}-{m['apiVersion']}") for m in VALID),
    pytest.param(edit(SERVICE_ENTRY, {"apiVersion": "networking.istio.io/v1beta1"}), [], id="valid-v1beta1"),
    pytest.param(edit(GATEWAY, {"apiVersion": "networking.istio.io/v1alpha3"}), [], id="valid-v1alpha3"),
    pytest.param(edit(VIRTUAL_SERVICE, {"spec.http[0].timeout": "1h30m"}), [], id="valid-go-duration-with-two-units"),
    pytest.param(edit(DESTINATION_RULE, {CONNECT_TIMEOUT: "1000µs"}), [], id="valid-duration-micro-sign-exactly-1ms"),
    pytest.param(
        edit(SERVICE_ENTRY, {"status": {"observedGeneration": 1.5, "conditions": "x"}}),
        [],
        id="status-values-ignored-on-create",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.locaton": "MESH_EXTERNAL"}),
        [
            Finding(
                "spec.locaton",
                "MESH_EXTERNAL",
                "field not declared in schema",
                "Did you mean `location`? Otherwise remove `locaton`",
            )
        ],
        id="unknown-field",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"extra": 1}),
        [
            Finding(
                "extra",
                1,
                "field not declared in schema",
                "Remove `extra`; fields allowed here: apiVersion, kind, metadata, spec, status",
            )
        ],
        id="unknown-top-level-field",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.ports[0].number": "443"}),
        [
            Finding(
                "spec.ports[0].number",
                "443",
                'Invalid value: "443": spec.ports[0].number in body must be of type integer: "string"',
                "Change it to an integer",
            ),
            not_checked("spec.ports[0].number"),
        ],
        id="wrong-type",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.resolution": "DNZ"}),
        [
            Finding(
                "spec.resolution",
                "DNZ",
                'Unsupported value: "DNZ": supported values: "NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"',
                "Use one of: NONE, STATIC, DNS, DNS_ROUND_ROBIN, DYNAMIC_DNS",
            ),
            not_checked("spec"),
        ],
        id="enum",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.hosts": ...}),
        [Finding("spec.hosts", None, "Required value", "Set spec.hosts"), not_checked("spec")],
        id="required",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.ports[0].number": 0}),
        [
            Finding(
                "spec.ports[0].number",
                0,
                'Invalid value: "integer": port must be between 1-65535',
                cel_fix("spec.ports[0].number", PORT_RULE),
            )
        ],
        id="cel-serviceentry-port-0",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.ports[1].name": "tls"}),
        [
            Finding(
                "spec.ports[1]",
                {"name": "tls"},
                'Duplicate value: {"name":"tls"}',
                "Give each item of spec.ports a unique `name`",
            )
        ],
        id="list-map-duplicate-port-names",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.ports[1].number": 443}),
        [
            Finding(
                "spec.ports",
                [
                    {"number": 443, "name": "tls", "protocol": "TLS"},
                    {"number": 443, "name": "http", "protocol": "HTTP"},
                ],
                'Invalid value: "array": port number cannot be duplicated',
                cel_fix("spec.ports", "self.all(l1, self.exists_one(l2, l1.number == l2.number))"),
            )
        ],
        id="cel-serviceentry-duplicate-port-numbers",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.hosts": ["*"]}),
        [
            Finding(
                "spec.hosts[0]",
                "*",
                'Invalid value: "string": hostname cannot be wildcard',
                cel_fix("spec.hosts[0]", 'self != "*"'),
            )
        ],
        id="cel-serviceentry-wildcard-host",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"spec.addresses": ["10.0.0.0/8"]}),
        [
            Finding(
                "spec",
                {**SERVICE_ENTRY["spec"], "addresses": ["10.0.0.0/8"]},
                'Invalid value: "object": CIDR addresses are allowed only for NONE/STATIC resolution types',
                cel_fix(
                    "spec",
                    '!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && '
                    '!((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))',
                ),
            )
        ],
        id="cel-serviceentry-cidr-with-dns",
    ),
    pytest.param(
        edit(
            GATEWAY,
            {"spec.servers[0].tls": {"mode": "SIMPLE", "credentialName": "a", "credentialNames": ["b", "c"]}},
        ),
        [
            Finding(
                "spec.servers[0].tls",
                {"mode": "SIMPLE", "credentialName": "a", "credentialNames": ["b", "c"]},
                'Invalid value: "object": only one of credentialName or credentialNames can be set',
                cel_fix(
                    "spec.servers[0].tls",
                    "(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1",
                ),
            )
        ],
        id="cel-gateway-credentialName-and-credentialNames",
    ),
    # Faithful to the CRD's bug: its third TLS rule says "credentialName or tlsCertificates" but tests
    # credentialNames, so only istiod's webhook rejects this pair (see the CRDs' README).
    pytest.param(
        edit(
            GATEWAY,
            {
                "spec.servers[0].tls": {
                    "mode": "SIMPLE",
                    "credentialName": "a",
                    "tlsCertificates": [{"serverCertificate": "/c.pem", "privateKey": "/k.pem"}],
                }
            },
        ),
        [],
        id="cel-gateway-credentialName-and-tlsCertificates-not-a-crd-error",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"status": {"conditions": [{"type": "Ready", "bogus": 1}]}}),
        [
            Finding(
                "status.conditions[0].bogus",
                1,
                "field not declared in schema",
                "Remove `bogus`; fields allowed here: lastProbeTime, lastTransitionTime, message, "
                "observedGeneration, reason, status, type",
            )
        ],
        id="status-undeclared-fields-still-rejected",
    ),
    pytest.param(
        edit(DESTINATION_RULE, {CONNECT_TIMEOUT: "999µs"}),
        [
            Finding(
                CONNECT_TIMEOUT,
                "999µs",
                'Invalid value: "string": must be a valid duration greater than 1ms',
                cel_fix(CONNECT_TIMEOUT, DURATION_RULE),
            )
        ],
        id="cel-duration-below-1ms",
    ),
    pytest.param(
        edit(DESTINATION_RULE, {CONNECT_TIMEOUT: "1x"}),
        [
            Finding(
                CONNECT_TIMEOUT,
                "1x",
                "Invalid value: \"string\": type conversion error from 'string' to 'google.protobuf.Duration' "
                "evaluating rule: must be a valid duration greater than 1ms",
                cel_fix(CONNECT_TIMEOUT, DURATION_RULE),
            )
        ],
        id="cel-duration-unparsable",
    ),
    pytest.param(
        edit(
            DESTINATION_RULE,
            {"spec.trafficPolicy.loadBalancer": {"simple": "ROUND_ROBIN", "consistentHash": {"useSourceIp": True}}},
        ),
        [
            Finding(
                "spec.trafficPolicy.loadBalancer",
                {"simple": "ROUND_ROBIN", "consistentHash": {"useSourceIp": True}},
                'Invalid value: "object": spec.trafficPolicy.loadBalancer in body must validate one and only one '
                "schema (oneOf). Found 2 valid alternatives",
                "Set at most one of: simple, consistentHash",
            )
        ],
        id="oneOf-simple-and-consistentHash",
    ),
    pytest.param(
        edit(AUTHORIZATION_POLICY, {"spec.targetRef": {"kind": "Service", "group": "", "name": "egress"}}),
        [
            Finding(
                "spec",
                {**AUTHORIZATION_POLICY["spec"], "targetRef": {"kind": "Service", "group": "", "name": "egress"}},
                'Invalid value: "object": only one of targetRefs or selector can be set',
                cel_fix(
                    "spec",
                    "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0)"
                    " <= 1",
                ),
            )
        ],
        id="cel-authorizationpolicy-selector-and-targetRef",
    ),
    pytest.param(
        edit(SIDECAR, {"spec.outboundTrafficPolicy.mode": "registry_only"}),
        [
            Finding(
                "spec.outboundTrafficPolicy.mode",
                "registry_only",
                'Unsupported value: "registry_only": supported values: "REGISTRY_ONLY", "ALLOW_ANY"',
                "Use one of: REGISTRY_ONLY, ALLOW_ANY",
            )
        ],
        id="enum-is-case-sensitive",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"metadata.name": "Egress_GW"}),
        [
            Finding(
                "metadata.name",
                "Egress_GW",
                'Invalid value: "Egress_GW": a lowercase RFC 1123 subdomain must consist of lower case '
                "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
                "(e.g. 'example.com', regex used for validation is "
                "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
                "Use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit",
            )
        ],
        id="metadata-name-not-dns-subdomain",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"metadata.name": "a" * 254}),
        [
            Finding(
                "metadata.name",
                "a" * 254,
                f'Invalid value: "{"a" * 254}": must be no more than 253 characters',
                "Use at most 253 characters",
            )
        ],
        id="metadata-name-too-long",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"metadata.name": ...}),
        [Finding("metadata.name", None, "Required value: name or generateName is required", "Set metadata.name")],
        id="metadata-name-missing",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"metadata.labels": {"app": "-bad-"}}),
        [
            Finding(
                "metadata.labels[app]",
                "-bad-",
                'Invalid value: "-bad-": a valid label must be an empty string or consist of alphanumeric '
                "characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. "
                "'MyValue',  or 'my_value',  or '12345', regex used for validation is "
                "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                "Use letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
            )
        ],
        id="metadata-label-value",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"metadata.nmespace": "egress"}),
        [
            Finding(
                "metadata.nmespace",
                "egress",
                "field not declared in schema",
                "Did you mean `namespace`? Otherwise remove `nmespace`",
            )
        ],
        id="metadata-unknown-field",
    ),
    pytest.param(
        edit(SERVICE_ENTRY, {"apiVersion": "networking.istio.io/v2"}),
        [
            Finding(
                "apiVersion",
                "networking.istio.io/v2",
                'no matches for kind "ServiceEntry" in version "networking.istio.io/v2"',
                "Use apiVersion networking.istio.io/v1 or networking.istio.io/v1alpha3 or networking.istio.io/v1beta1",
            )
        ],
        id="unserved-version",
    ),
    pytest.param(
        {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "x"}},
        [
            Finding(
                "apiVersion",
                "example.com/v1",
                'no matches for kind "Foo" in version "example.com/v1"',
                "Use a kind the loaded CRDs define, or load the CRD that defines Foo",
            )
        ],
        id="unknown-kind",
    ),
    pytest.param(
        {"metadata": {"name": "x"}},
        [
            Finding("apiVersion", None, "Required value", "Set apiVersion"),
            Finding("kind", None, "Required value", "Set kind"),
        ],
        id="no-apiVersion-or-kind",
    ),
    pytest.param(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "strict-80"},
            "spec": {"selector": {"matchLabels": {"app": "a"}}, "portLevelMtls": {80: {"mode": "STRICT"}}},
        },
        [],
        id="yaml-integer-map-key-is-a-string-key",
    ),
]


@pytest.mark.parametrize(("manifest", "expected"), ISTIO_CASES)
def test_istio_manifest(manifest: dict[str, Any], expected: list[Finding]) -> None:
    assert istio_crds().validate(manifest) == expected


def test_validate_does_not_modify_the_manifest() -> None:
    manifest = edit(SERVICE_ENTRY, {"spec.ports[1].name": "tls", "spec.bogus": 1, "status": {"x": 1}})
    before = copy.deepcopy(manifest)
    istio_crds().validate(manifest)
    assert manifest == before
    defaulted = widget({"tier": None, "labels": {"a": "b"}})  # defaults fill a copy
    widget_crds().validate(defaulted)
    assert defaulted == widget({"tier": None, "labels": {"a": "b"}})


# ---------------------------------------------------------------------------------------------
# Schema and CEL features Istio's CRDs do not use (tests/fixtures/conformance/widgets-crd-list.yaml)
# ---------------------------------------------------------------------------------------------


def widget(spec: dict[str, Any], name: str = "w-1", **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name, **metadata}, "spec": spec}


UNEVALUATED_FIX = (
    "Check this object against a real API server (`kubectl apply --dry-run=server`); "
    "this validator cannot evaluate the check"
)
ENDPOINT_RULE = "url(self).getScheme() == 'https' && url(self).getPort() != '8443'"

WIDGET_CASES = [
    pytest.param(widget({}), [], id="required-field-with-default"),
    pytest.param(widget({"tier": None}), [], id="null-replaced-by-default"),
    pytest.param(
        widget({"priority": 11}),
        [
            Finding(
                "spec",
                {"priority": 11, "tier": "gold"},
                'Invalid value: "object": priority must be at most 10',
                cel_fix("spec", "self.priority <= 10"),
            )
        ],
        id="cel-sees-defaults",
    ),
    pytest.param(widget({"size": 3}), [], id="int-or-string-int"),
    pytest.param(widget({"size": "50%"}), [], id="int-or-string-string"),
    pytest.param(
        widget({"size": True}),
        [
            Finding(
                "spec.size",
                True,
                'Invalid value: true: spec.size in body must be of type integer,string: "boolean"',
                "Change it to an integer or a string",
            ),
            not_checked("spec"),
        ],
        id="int-or-string-bool",
    ),
    pytest.param(
        widget({"tags": ["a", "b", "a"]}),
        [Finding("spec.tags[2]", "a", 'Duplicate value: "a"', "Remove the duplicate item")],
        id="list-set-duplicate",
    ),
    pytest.param(
        widget({"tags": ["a", "b", "c", "d"]}),
        [
            Finding(
                "spec.tags", ["a", "b", "c", "d"], "Too many: 4: must have at most 3 items", "Give it at most 3 items"
            ),
            not_checked("spec"),
        ],
        id="maxItems",
    ),
    pytest.param(widget({"blob": "aGVsbG8="}), [], id="format-byte"),
    pytest.param(
        widget({"blob": "aGVsbG8"}),
        [
            Finding(
                "spec.blob",
                "aGVsbG8",
                'Invalid value: "aGVsbG8": spec.blob in body must be of type byte: "aGVsbG8"',
                "Use padded standard base64",
            ),
            not_checked("spec"),
        ],
        id="format-byte-unpadded",
    ),
    pytest.param(widget({"since": "2024-01-02T03:04:05Z"}), [], id="format-date-time"),
    pytest.param(
        widget({"since": "2024-01-02T03:04Z"}),
        [
            Finding(
                "spec.since",
                "2024-01-02T03:04Z",
                'Invalid value: "2024-01-02T03:04Z": spec.since in body must be of type date-time: "2024-01-02T03:04Z"',
                "Use an RFC 3339 timestamp such as 2024-01-02T15:04:05Z",
            ),
            not_checked("spec"),
        ],
        id="format-date-time-without-seconds",
    ),
    pytest.param(
        widget({"contact": "a@example.com"}),
        [
            Finding(
                "spec.contact",
                "a@example.com",
                f"{COULD_NOT_EVALUATE} format 'email': not implemented by this validator",
                UNEVALUATED_FIX,
            )
        ],
        id="format-not-implemented-is-reported",
    ),
    pytest.param(widget({"replicas": None}), [], id="nullable"),
    pytest.param(widget({"replicas": 2.0}), [], id="integer-accepts-integral-float"),
    pytest.param(
        widget({"replicas": 0}),
        [
            Finding(
                "spec.replicas",
                0,
                "Invalid value: 0: spec.replicas in body should be greater than 0",
                "Use a value greater than 0",
            )
        ],
        id="exclusiveMinimum",
    ),
    pytest.param(
        widget({"ratio": 10}),
        [
            Finding(
                "spec.ratio",
                10,
                "Invalid value: 10: spec.ratio in body should be less than 10",
                "Use a value less than 10",
            )
        ],
        id="exclusiveMaximum",
    ),
    pytest.param(
        widget({"ratio": 1.2}),
        [
            Finding(
                "spec.ratio",
                1.2,
                "Invalid value: 1.2: spec.ratio in body should be a multiple of 0.5",
                "Use a multiple of 0.5",
            )
        ],
        id="multipleOf",
    ),
    pytest.param(
        widget({"name": "abcdef"}),
        [
            Finding("spec.name", "abcdef", "Too long: may not be longer than 5", "Use at most 5 characters"),
            not_checked("spec"),
        ],
        id="maxLength",
    ),
    pytest.param(
        widget({"labels": {"a": "1", "b": "2", "c": "3"}}),
        [
            Finding(
                "spec.labels",
                {"a": "1", "b": "2", "c": "3"},
                "Too many: 3: must have at most 2 items",
                "Give it at most 2 entries",
            ),
            not_checked("spec"),
        ],
        id="maxProperties",
    ),
    pytest.param(widget({"config": {"anything": {"goes": [1, None]}}}), [], id="preserve-unknown-fields"),
    pytest.param(
        widget({"mode": "legacy"}),
        [
            Finding(
                "spec.mode",
                "legacy",
                'Invalid value: "string": spec.mode in body must not validate the schema (not)',
                "Change it so it no longer matches the schema under `not`",
            )
        ],
        id="not",
    ),
    pytest.param(widget({"endpoint": "https://example.com/x"}), [], id="cel-url-valid"),
    pytest.param(
        widget({"endpoint": "https://example.com:8443/"}),
        [
            Finding(
                "spec.endpoint",
                "https://example.com:8443/",
                'Invalid value: "string": endpoint must be https, not on port 8443',
                cel_fix("spec.endpoint", ENDPOINT_RULE),
            )
        ],
        id="cel-url-getPort",
    ),
    pytest.param(
        widget({"endpoint": "example.com"}),
        [
            Finding(
                "spec.endpoint",
                "example.com",
                'Invalid value: "string": URL parse error during conversion from string: parse "example.com": '
                "invalid URI for request evaluating rule: endpoint must be https, not on port 8443",
                cel_fix("spec.endpoint", ENDPOINT_RULE),
            )
        ],
        id="cel-url-parse-error",
    ),
    pytest.param(
        widget({"address": "1.2.3.4"}),
        [
            Finding(
                "spec.address",
                "1.2.3.4",
                f"{COULD_NOT_EVALUATE} rule `isCIDR(self)` (must be a CIDR): "
                "'isCIDR' is not implemented by this validator",
                UNEVALUATED_FIX,
            )
        ],
        id="cel-unimplemented-function-is-reported",
    ),
    pytest.param(widget({"title": "héé"}), [], id="cel-size-counts-code-points"),
    pytest.param(
        widget({"title": "héééé"}),
        [
            Finding(
                "spec.title",
                "héééé",
                'Invalid value: "string": failed rule: self.size() <= 3',
                cel_fix("spec.title", "self.size() <= 3"),
            )
        ],
        id="cel-without-message",
    ),
    pytest.param(
        widget({"limits": {"min": 3, "max": 2}}),
        [
            Finding(
                "spec.limits.min",
                3,
                "Forbidden: min 3 exceeds max 2",
                cel_fix("spec.limits", "self.min <= self.max"),
            )
        ],
        id="cel-fieldPath-reason-messageExpression",
    ),
    pytest.param(
        widget({"limits": {"min": 3}}),
        [
            Finding(
                "spec.limits",
                {"min": 3},
                'Invalid value: "object": no such key: max evaluating rule: self.min <= self.max',
                cel_fix("spec.limits", "self.min <= self.max"),
            )
        ],
        id="cel-runtime-error",
    ),
    pytest.param(widget({"frozen": "x"}), [], id="cel-transition-rule-skipped-on-create"),
    pytest.param(
        widget({}, name="x-1"),
        [
            Finding(
                "<root>",
                widget({"tier": "gold", "priority": 5}, name="x-1"),
                'Invalid value: "object": name must start with w-',
                "Change the object so that the rule `self.metadata.name.startsWith('w-')` holds",
            )
        ],
        id="cel-root-rule-sees-metadata-name",
    ),
    pytest.param(
        widget({}, name="w-too-long-name", labels={"team": "a"}),
        [
            Finding(
                "metadata.name", "w-too-long-name", "Too long: may not be longer than 10", "Use at most 10 characters"
            ),
            not_checked("<root>"),
        ],
        id="crd-constrains-metadata-name",
    ),
    pytest.param(
        widget({}, namespace="default"),
        [
            Finding(
                "metadata.namespace",
                "default",
                "Forbidden: not allowed on this type",
                "Remove metadata.namespace: this kind is cluster-scoped",
            )
        ],
        id="cluster-scoped-namespace",
    ),
]


@pytest.mark.parametrize(("manifest", "expected"), WIDGET_CASES)
def test_widget_manifest(manifest: dict[str, Any], expected: list[Finding]) -> None:
    assert widget_crds().validate(manifest) == expected


# Go's time.ParseDuration, as Kubernetes' CEL duration() uses it (checked via a `>= 1ms` rule).
@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        ("1ms", "ok"),
        ("1.5ms", "ok"),
        (".5s", "ok"),
        ("5.s", "ok"),
        ("+1h1m", "ok"),
        ("1000us", "ok"),
        ("1000μs", "ok"),  # Greek mu, also accepted by Go
        ("999999ns", "too short"),
        ("-1s", "too short"),
        ("0", "too short"),
        # cel-go reports its own conversion error, not Go's (kube-apiserver prints exactly this)
        ("1", "type conversion error from 'string' to 'google.protobuf.Duration'"),
        ("", "type conversion error from 'string' to 'google.protobuf.Duration'"),
        ("1e3s", "type conversion error from 'string' to 'google.protobuf.Duration'"),
        ("1h-1m", "type conversion error from 'string' to 'google.protobuf.Duration'"),
        ("1S", "type conversion error from 'string' to 'google.protobuf.Duration'"),
        ("9223372036854775808ns", "type conversion error from 'string' to 'google.protobuf.Duration'"),
        ("-9223372036854775808ns", "too short"),
        ("00000000000000000000001s", "ok"),
    ],
)
def test_duration_is_parsed_like_go(text: str, outcome: str) -> None:
    findings = istio_crds().validate(edit(DESTINATION_RULE, {CONNECT_TIMEOUT: text}))
    if outcome == "ok":
        assert findings == []
    elif outcome == "too short":
        assert [f.message for f in findings] == ['Invalid value: "string": must be a valid duration greater than 1ms']
    else:
        assert [f.message for f in findings] == [
            f'Invalid value: "string": {outcome} evaluating rule: must be a valid duration greater than 1ms'
        ]


# ---------------------------------------------------------------------------------------------
# Istio's own apiserver test vectors
# ---------------------------------------------------------------------------------------------

# PyYAML reads the flow item `001:db8::` as a mapping; Go's YAML (what kubectl and Istio's tests use)
# reads a string. Quote it, and fail if the text to quote is gone (the vectors changed).
GO_YAML_READING = {"serviceentry-valid.yaml": [("001:db8::]", '"001:db8::"]')]}

# Vectors this validator cannot reproduce: {"<file stem>[<document index>]": "why"}. Empty: all pass.
# An entry runs as a strict xfail, so a vector that starts passing must be removed from here.
KNOWN_EXCEPTIONS: dict[str, str] = {}


def _upstream_vectors() -> list[Any]:
    files = sorted(UPSTREAM_DIR.glob("*.yaml"))
    if not files:
        return [pytest.param(None, "", id="upstream-testdata-missing")]
    params = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        for old, new in GO_YAML_READING.get(file.name, []):
            assert old in text, f"{file}: expected {old!r} to quote for Go's YAML reading"
            text = text.replace(old, new)
        for index, doc in enumerate(yaml.safe_load_all(text)):
            if doc is None:
                continue  # empty document after a trailing ---
            key = f"{file.stem}[{index}]"
            marks = [pytest.mark.xfail(reason=KNOWN_EXCEPTIONS[key], strict=True)] if key in KNOWN_EXCEPTIONS else []
            name = (doc.get("metadata") or {}).get("name", "")
            params.append(pytest.param(doc, key, id=f"{key}-{name}", marks=marks))
    return params


UPSTREAM_VECTORS = _upstream_vectors()


@pytest.mark.parametrize(("document", "key"), UPSTREAM_VECTORS)
def test_upstream_vector(document: dict[str, Any] | None, key: str) -> None:
    if document is None:
        pytest.fail(f"no Istio test vectors (*.yaml) in {UPSTREAM_DIR}; set ISTIO_CRDS_TESTDATA", pytrace=False)
    manifest = dict(document)
    expected_error = manifest.pop("_err", None)
    findings = istio_crds().validate(manifest)
    errors = [f"{f.path}: {f.message}" for f in findings]  # the API server's `field: detail` form
    if expected_error is None:
        assert errors == []
    else:
        assert any(expected_error in e for e in errors), f"{expected_error!r} not in {errors}"
        assert not any(is_unevaluated(f) for f in findings)


def test_upstream_vectors_cover_both_outcomes_and_known_exceptions_exist() -> None:
    documents = {p.values[1]: p.values[0] for p in UPSTREAM_VECTORS if p.values[0] is not None}
    assert len(documents) >= 100, f"expected Istio's test vectors in {UPSTREAM_DIR}"
    assert not set(KNOWN_EXCEPTIONS) - set(documents), "stale KNOWN_EXCEPTIONS entries"
    rejected = [key for key, doc in documents.items() if "_err" in doc]
    assert 0 < len(rejected) < len(documents)


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def test_kinds_include_the_egress_kinds_in_every_served_version() -> None:
    kinds = istio_crds().kinds()
    for version in ("v1", "v1beta1", "v1alpha3"):
        for kind in ("ServiceEntry", "Gateway", "DestinationRule", "VirtualService", "Sidecar"):
            assert (f"networking.istio.io/{version}", kind) in kinds
    assert ("security.istio.io/v1", "AuthorizationPolicy") in kinds
    assert ("security.istio.io/v1beta1", "AuthorizationPolicy") in kinds
    assert len(kinds) == 33


def test_load_kubectl_list_skips_unserved_versions() -> None:
    assert widget_crds().kinds() == frozenset({("example.com/v1", "Widget")})


def test_load_several_files() -> None:
    istio = istio_crds()
    assert CrdSet.load(CRDS_PATH, WIDGETS_PATH).kinds() == istio.kinds() | widget_crds().kinds()


def test_from_documents_ignores_other_kinds() -> None:
    docs = list(yaml.safe_load_all(WIDGETS_PATH.read_text(encoding="utf-8")))
    crds = CrdSet.from_documents([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, *docs])
    assert crds.kinds() == frozenset({("example.com/v1", "Widget")})


def test_load_rejects_a_file_without_crds(tmp_path: Path) -> None:
    path = tmp_path / "not-crds.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no CustomResourceDefinition"):
        CrdSet.load(path)


def test_crds_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DEFAULT_CRDS_ENV, str(WIDGETS_PATH))
    first = crds_from_env()
    assert first.kinds() == frozenset({("example.com/v1", "Widget")})
    assert crds_from_env() is first  # loaded once per file version


def test_crds_from_env_reads_a_path_list(monkeypatch: pytest.MonkeyPatch) -> None:
    istio = istio_crds()
    monkeypatch.setenv(DEFAULT_CRDS_ENV, os.pathsep.join([str(CRDS_PATH), str(WIDGETS_PATH)]))
    assert crds_from_env().kinds() == istio.kinds() | widget_crds().kinds()


def test_crds_from_env_uses_default_when_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_CRDS_ENV, raising=False)
    assert crds_from_env(str(WIDGETS_PATH)).kinds() == frozenset({("example.com/v1", "Widget")})


@pytest.mark.parametrize("configured", [True, False])
def test_crds_from_env_missing_file_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, configured: bool
) -> None:
    missing = tmp_path / "nope.yaml"
    if configured:
        monkeypatch.setenv(DEFAULT_CRDS_ENV, str(missing))
    else:
        monkeypatch.delenv(DEFAULT_CRDS_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"\$ISTIO_CRDS") as raised:
        crds_from_env(None if configured else str(missing))
    assert str(missing) in str(raised.value)


def test_crds_from_env_without_any_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DEFAULT_CRDS_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=r"set \$ISTIO_CRDS"):
        crds_from_env()


# ---------------------------------------------------------------------------------------------
# Behaviour around the findings
# ---------------------------------------------------------------------------------------------


def test_is_unevaluated() -> None:
    (finding,) = widget_crds().validate(widget({"address": "1.2.3.4"}))
    assert is_unevaluated(finding)
    assert not any(is_unevaluated(f) for f in istio_crds().validate(edit(SERVICE_ENTRY, {"spec.hosts": ["*"]})))


def test_rule_failures_do_not_log(caplog: pytest.LogCaptureFixture) -> None:
    # The cel package logs each failing Python function; expected failures must stay quiet.
    with caplog.at_level(logging.DEBUG):
        assert widget_crds().validate(widget({"endpoint": "example.com"}))
    assert not [r for r in caplog.records if r.name.startswith("cel")]


def test_speed() -> None:
    # Loose bounds that still catch per-call compilation; actual numbers are far lower.
    crds = istio_crds()
    started = time.perf_counter()
    CrdSet.load(CRDS_PATH)
    assert time.perf_counter() - started < 5
    started = time.perf_counter()
    for _ in range(100):
        for manifest in VALID:
            crds.validate(manifest)
    assert (time.perf_counter() - started) / (100 * len(VALID)) < 0.005


ISTIO_VALID_VECTORS = [p for p in UPSTREAM_VECTORS if p.values[0] is not None
                       and p.values[0].get("kind") in istio_valid.KINDS]


@pytest.mark.parametrize(("document", "key"), ISTIO_VALID_VECTORS)
def test_istio_valid_policy_agrees_with_upstream_vectors(document: dict[str, Any], key: str) -> None:
    """The `istio-valid` rule (webhook layer + CRD layer) accepts and rejects what Istio does."""
    manifest = dict(document)
    expected_error = manifest.pop("_err", None)
    findings = list(istio_valid.RULE.check(manifest, {"crdFiles": [str(CRDS_PATH)]}))
    if expected_error is None:
        assert findings == []
    else:
        assert any(expected_error in f"{f.path}: {f.message}" for f in findings), findings


def test_istio_valid_vectors_cover_the_egress_kinds() -> None:
    kinds = {p.values[0]["kind"] for p in ISTIO_VALID_VECTORS}
    assert kinds == {"ServiceEntry", "DestinationRule", "AuthorizationPolicy"}  # the kinds upstream has vectors for
