"""CrdSet on Gateway API v1.6.1's CRDs: schema ``default``s are applied before CEL rules run.

The API server defaults an object while decoding it, so Gateway API's rules read ``kind`` and
``group`` of references the author left out (``parentRefs`` default to a Gateway, ``backendRefs`` to
a core Service). Objects are Istio's documented Gateway API egress configs, in our own words.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from gateway_api_crds import CHANNELS, gateway_api_crds

from pulumi_istio_egress.conformance import crds as crds_module
from pulumi_istio_egress.findings import Finding

V1 = "gateway.networking.k8s.io/v1"
ISTIO_GROUP = "networking.istio.io"


def cel_fix(path: str, rule: str) -> str:
    return f"Change {path} so that the rule `{rule}` holds"


def meta(name: str, namespace: str = "egress") -> dict[str, Any]:
    return {"name": name, "namespace": namespace}


PASSTHROUGH_GATEWAY: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "Gateway",
    "metadata": {**meta("cnn-egress-gateway"), "annotations": {"networking.istio.io/service-type": "ClusterIP"}},
    "spec": {
        "gatewayClassName": "istio",
        "listeners": [{
            "name": "tls", "hostname": "edition.cnn.com", "port": 443, "protocol": "TLS",
            "tls": {"mode": "Passthrough"}, "allowedRoutes": {"namespaces": {"from": "Same"}},
        }],
    },
}
ORIGINATION_GATEWAY: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "Gateway",
    "metadata": {**meta("cnn-egress-gateway"), "annotations": {"networking.istio.io/service-type": "ClusterIP"}},
    "spec": {
        "gatewayClassName": "istio",
        "listeners": [{
            "name": "https", "hostname": "edition.cnn.com", "port": 80, "protocol": "HTTPS",
            "tls": {"mode": "Terminate", "options": {"gateway.istio.io/tls-terminate-mode": "ISTIO_MUTUAL"}},
            "allowedRoutes": {"namespaces": {"from": "Same"}},
        }],
    },
}
TERMINATING_GATEWAY: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "Gateway",
    "metadata": meta("cnn-egress-gateway"),
    "spec": {
        "gatewayClassName": "istio",
        "listeners": [{
            "name": "https", "hostname": "edition.cnn.com", "port": 443, "protocol": "HTTPS",
            "tls": {"mode": "Terminate", "certificateRefs": [{"name": "inspection-cert"}]},
        }],
    },
}
MESH_HTTP_ROUTE: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "HTTPRoute",
    "metadata": meta("direct-cnn-to-egress-gateway"),
    "spec": {
        "parentRefs": [{"kind": "ServiceEntry", "group": ISTIO_GROUP, "name": "cnn", "port": 80}],
        "rules": [{"backendRefs": [{"name": "cnn-egress-gateway-istio", "port": 80}]}],
    },
}
GATEWAY_HTTP_ROUTE: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "HTTPRoute",
    "metadata": meta("forward-cnn-from-egress-gateway"),
    "spec": {
        "parentRefs": [{"name": "cnn-egress-gateway"}],
        "hostnames": ["edition.cnn.com"],
        "rules": [{"backendRefs": [
            {"kind": "Hostname", "group": ISTIO_GROUP, "name": "edition.cnn.com", "port": 443}]}],
    },
}
GATEWAY_TLS_ROUTE: dict[str, Any] = {
    "apiVersion": V1,
    "kind": "TLSRoute",
    "metadata": meta("forward-cnn-from-egress-gateway"),
    "spec": {
        "parentRefs": [{"name": "cnn-egress-gateway"}],
        "hostnames": ["edition.cnn.com"],
        "rules": [{"backendRefs": [
            {"kind": "Hostname", "group": ISTIO_GROUP, "name": "edition.cnn.com", "port": 443}]}],
    },
}
REFERENCE_GRANT: dict[str, Any] = {
    "apiVersion": "gateway.networking.k8s.io/v1beta1",
    "kind": "ReferenceGrant",
    "metadata": meta("my-nginx", "mesh-external"),
    "spec": {
        "from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "egress"}],
        "to": [{"group": "", "kind": "Service", "name": "my-nginx"}],
    },
}


def edited(manifest: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    """A deep copy with the value at ``path`` replaced (``...`` deletes it)."""
    out = copy.deepcopy(manifest)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    if value is ...:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


VALID = {
    "passthrough gateway": PASSTHROUGH_GATEWAY,
    "origination gateway (ISTIO_MUTUAL option)": ORIGINATION_GATEWAY,
    "terminating gateway": TERMINATING_GATEWAY,
    "mesh leg HTTPRoute, ServiceEntry parent": MESH_HTTP_ROUTE,
    "gateway leg HTTPRoute, Hostname backend": GATEWAY_HTTP_ROUTE,
    "gateway leg TLSRoute v1": GATEWAY_TLS_ROUTE,
    "gateway leg TLSRoute v1alpha2 (experimental only)": {**GATEWAY_TLS_ROUTE,
                                                         "apiVersion": "gateway.networking.k8s.io/v1alpha2"},
    "ReferenceGrant": REFERENCE_GRANT,
    # A Hostname backend needs no port: only a reference that *defaults* to a Service does.
    "Hostname backend without port": edited(GATEWAY_HTTP_ROUTE, ("spec", "rules", 0, "backendRefs", 0, "port"), ...),
    # One parent named twice, told apart by sectionName: the rule compares defaulted group/kind.
    "same parent, two sections": edited(GATEWAY_HTTP_ROUTE, ("spec", "parentRefs"), [
        {"name": "cnn-egress-gateway", "sectionName": "a"}, {"name": "cnn-egress-gateway", "sectionName": "b"}]),
}


def _channels(manifest: dict[str, Any]) -> list[str]:
    # v1alpha2 TLSRoute is served by the experimental channel only (test_v1alpha2_... below).
    return ["experimental"] if manifest["apiVersion"].endswith("v1alpha2") else list(CHANNELS)


VALID_CASES = [(name, channel, m) for name, m in VALID.items() for channel in _channels(m)]


@pytest.mark.parametrize(("channel", "manifest"), [(c, m) for _, c, m in VALID_CASES],
                         ids=[f"{n}-{c}" for n, c, _ in VALID_CASES])
def test_documented_gateway_api_objects_are_valid(channel: str, manifest: dict[str, Any]) -> None:
    assert gateway_api_crds(channel).validate(manifest) == []


BACKEND_PORT_RULE = "(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true"
UNIQUE_SECTION_RULE = (
    "self.all(p1, self.exists_one(p2, p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name && "
    "(((!has(p1.__namespace__) || p1.__namespace__ == '') && (!has(p2.__namespace__) || p2.__namespace__ == '')) "
    "|| (has(p1.__namespace__) && has(p2.__namespace__) && p1.__namespace__ == p2.__namespace__ )) && "
    "(((!has(p1.sectionName) || p1.sectionName == '') && (!has(p2.sectionName) || p2.sectionName == '')) || "
    "(has(p1.sectionName) && has(p2.sectionName) && p1.sectionName == p2.sectionName))))"
)
NO_IP_RULE = "self.all(h, !isIP(h))"
TLS_MODE_RULE = "self.all(l, (l.protocol == 'TLS' ? has(l.tls) && has(l.tls.mode) && l.tls.mode != '' : true))"
HTTPS_TERMINATE_RULE = (
    "self.all(l, (l.protocol == 'HTTPS' && has(l.tls)) ? (l.tls.mode == '' || l.tls.mode == 'Terminate') : true)"
)
UNIQUE_SECTION_OR_PORT_RULE = (  # the experimental channel also tells parents apart by port
    "self.all(p1, self.exists_one(p2, p1.group == p2.group && p1.kind == p2.kind && p1.name == p2.name && "
    "(((!has(p1.__namespace__) || p1.__namespace__ == '') && (!has(p2.__namespace__) || p2.__namespace__ == '')) "
    "|| (has(p1.__namespace__) && has(p2.__namespace__) && p1.__namespace__ == p2.__namespace__ )) && "
    "(((!has(p1.sectionName) || p1.sectionName == '') && (!has(p2.sectionName) || p2.sectionName == '')) || "
    "( has(p1.sectionName) && has(p2.sectionName) && p1.sectionName == p2.sectionName)) && "
    "(((!has(p1.port) || p1.port == 0) && (!has(p2.port) || p2.port == 0)) || "
    "(has(p1.port) && has(p2.port) && p1.port == p2.port))))"
)
TWO_PARENTS = [{"name": "cnn-egress-gateway"}, {"name": "cnn-egress-gateway"}]
DEFAULTED_PARENT = {"name": "cnn-egress-gateway", "group": "gateway.networking.k8s.io", "kind": "Gateway"}
IP_ROUTE = edited(GATEWAY_TLS_ROUTE, ("spec", "hostnames"), ["10.0.0.1"])
PASSTHROUGH_LISTENER = PASSTHROUGH_GATEWAY["spec"]["listeners"][0]

INVALID = {
    # Defaulting: the reference defaults to a core Service, so it needs a port.
    "Service backend without port (defaulted kind and group)": (
        edited(MESH_HTTP_ROUTE, ("spec", "rules", 0, "backendRefs", 0, "port"), ...),
        [Finding(
            "spec.rules[0].backendRefs[0]",
            {"name": "cnn-egress-gateway-istio", "group": "", "kind": "Service", "weight": 1},
            'Invalid value: "object": Must have port for Service reference',
            cel_fix("spec.rules[0].backendRefs[0]", BACKEND_PORT_RULE),
        )],
    ),
    # Defaulting: both parents default to the same Gateway, so they need distinct sectionNames.
    "one Gateway parent twice (defaulted kind and group)": (
        edited(GATEWAY_HTTP_ROUTE, ("spec", "parentRefs"), TWO_PARENTS),
        [Finding(
            "spec.parentRefs",
            [DEFAULTED_PARENT, DEFAULTED_PARENT],
            'Invalid value: "array": sectionName must be unique when parentRefs includes 2 or more references '
            "to the same parent",
            cel_fix("spec.parentRefs", UNIQUE_SECTION_RULE),
        )],
    ),
    "one Gateway parent twice, experimental channel": (
        edited(GATEWAY_HTTP_ROUTE, ("spec", "parentRefs"), TWO_PARENTS),
        [Finding(
            "spec.parentRefs",
            [DEFAULTED_PARENT, DEFAULTED_PARENT],
            'Invalid value: "array": sectionName or port must be unique when parentRefs includes 2 or more '
            "references to the same parent",
            cel_fix("spec.parentRefs", UNIQUE_SECTION_OR_PORT_RULE),
        )],
    ),
    # Kubernetes' isIP, which Gateway API's hostname rules call.
    "IP address as a TLSRoute hostname": (
        IP_ROUTE,
        [Finding("spec.hostnames", ["10.0.0.1"], 'Invalid value: "array": Hostnames cannot contain an IP',
                 cel_fix("spec.hostnames", NO_IP_RULE))],
    ),
    "TLS listener without a TLS mode": (
        edited(PASSTHROUGH_GATEWAY, ("spec", "listeners", 0, "tls"), ...),
        [Finding(
            "spec.listeners",
            [{k: v for k, v in PASSTHROUGH_LISTENER.items() if k != "tls"}],
            'Invalid value: "array": tls mode must be set for protocol TLS',
            cel_fix("spec.listeners", TLS_MODE_RULE),
        )],
    ),
    "HTTPS listener in Passthrough mode": (
        edited(PASSTHROUGH_GATEWAY, ("spec", "listeners", 0, "protocol"), "HTTPS"),
        [Finding(
            "spec.listeners",
            [{**PASSTHROUGH_LISTENER, "protocol": "HTTPS"}],
            'Invalid value: "array": tls mode must be Terminate for protocol HTTPS',
            cel_fix("spec.listeners", HTTPS_TERMINATE_RULE),
        )],
    ),
    "Gateway without gatewayClassName": (
        edited(PASSTHROUGH_GATEWAY, ("spec", "gatewayClassName"), ...),
        [Finding("spec.gatewayClassName", None, "Required value", "Set spec.gatewayClassName")],
    ),
    "unknown listener field": (
        edited(PASSTHROUGH_GATEWAY, ("spec", "listeners", 0, "hostnames"), ["edition.cnn.com"]),
        [Finding("spec.listeners[0].hostnames", ["edition.cnn.com"], "field not declared in schema",
                 "Did you mean `hostname`? Otherwise remove `hostnames`")],
    ),
}


# The parentRefs uniqueness rule differs between the channels: each has its own case.
ONE_CHANNEL = {"one Gateway parent twice (defaulted kind and group)": "standard",
               "one Gateway parent twice, experimental channel": "experimental"}
INVALID_CASES = [(name, channel, *case) for name, case in INVALID.items()
                 for channel in ([ONE_CHANNEL[name]] if name in ONE_CHANNEL else CHANNELS)]


@pytest.mark.parametrize(("channel", "manifest", "expected"), [c[1:] for c in INVALID_CASES],
                         ids=[f"{c[0]}-{c[1]}" for c in INVALID_CASES])
def test_invalid_gateway_api_objects(channel: str, manifest: dict[str, Any], expected: list[Finding]) -> None:
    assert gateway_api_crds(channel).validate(manifest) == expected


def test_v1alpha2_tls_route_needs_the_experimental_channel() -> None:
    manifest = {**GATEWAY_TLS_ROUTE, "apiVersion": "gateway.networking.k8s.io/v1alpha2"}
    assert gateway_api_crds("standard").validate(manifest) == [Finding(
        "apiVersion", "gateway.networking.k8s.io/v1alpha2",
        'no matches for kind "TLSRoute" in version "gateway.networking.k8s.io/v1alpha2"',
        "Use apiVersion gateway.networking.k8s.io/v1",
    )]


def test_defaults_are_applied_before_cel_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the API server's defaulting the same object gives an evaluation error, not the rule's
    message: the order is what makes the verdict right."""
    manifest = edited(MESH_HTTP_ROUTE, ("spec", "rules", 0, "backendRefs", 0, "port"), ...)
    monkeypatch.setattr(crds_module, "with_defaults", lambda schema, value: value)
    findings = gateway_api_crds("standard").validate(manifest)
    assert [(f.path, f.message) for f in findings] == [
        ("spec.rules[0].backendRefs[0]",
         'Invalid value: "object": no such key: kind evaluating rule: Must have port for Service reference'),
        # rules[].matches defaults to one PathPrefix "/" match; the limit rule counts them.
        ("spec.rules",
         'Invalid value: "array": no such key: matches evaluating rule: While 16 rules and 64 matches per rule '
         "are allowed, the total number of matches across all rules in a route must be less than 128"),
    ]


@pytest.mark.parametrize(("address", "is_ip"), [
    ("10.0.0.1", True),
    ("2001:db8::1", True),
    ("010.0.0.1", False),  # netip refuses leading zeros
    ("fe80::1%eth0", False),  # Kubernetes refuses zones
    ("::ffff:10.0.0.1", False),  # and IPv4-mapped IPv6
    ("edition.cnn.com", False),
])
def test_is_ip_follows_kubernetes(address: str, is_ip: bool) -> None:
    route = edited(GATEWAY_TLS_ROUTE, ("spec", "hostnames"), [address])
    messages = [f.message for f in gateway_api_crds("standard").validate(route) if "IP" in f.message]
    assert messages == (['Invalid value: "array": Hostnames cannot contain an IP'] if is_ip else [])


def test_istio_and_gateway_api_crds_load_together() -> None:
    from gateway_api_crds import channel_path
    from test_conformance import CRDS_PATH

    from pulumi_istio_egress.conformance import CrdSet

    both = CrdSet.load(CRDS_PATH, channel_path("experimental"))
    assert {("networking.istio.io/v1", "ServiceEntry"), (V1, "Gateway"), (V1, "TLSRoute")} <= both.kinds()
    assert both.validate(MESH_HTTP_ROUTE) == []
