"""Each resource rule as a table: manifest + config -> the whole list of findings."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.findings import Finding
from pulumi_istio_egress.policies import (
    allowed_hosts,
    allowed_ports,
    audited_hosts,
    dns_resolution,
    export_scope,
    istio_valid,
    mutual_credentials,
    server_certificates,
    wildcard_hosts,
)
from pulumi_istio_egress.policies.rule import ResourceRule

NET = "networking.istio.io/v1"


def obj(kind: str, spec: Any, api: str = NET, name: str = "x", namespace: str = "istio-system") -> dict[str, Any]:
    return {"apiVersion": api, "kind": kind, "metadata": {"name": name, "namespace": namespace}, "spec": spec}


PIN_FIX = "set resolution: DNS (or pin the addresses: `addresses` with NONE, or STATIC endpoints)"


def se(**spec: Any) -> dict[str, Any]:
    base = {"hosts": ["api.stripe.com"], "location": "MESH_EXTERNAL", "resolution": "DNS", "exportTo": ["."],
            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}
    return obj("ServiceEntry", {**base, **spec})


def gw_server(mode: str, host: str = "api.stripe.com", **tls: Any) -> dict[str, Any]:
    return obj("Gateway", {"selector": {"istio": "egressgateway"}, "servers": [
        {"port": {"number": 443, "name": "tls", "protocol": "TLS"}, "hosts": [host], "tls": {"mode": mode, **tls}}]})


def dr(host: str = "api.stripe.com", **traffic_policy: Any) -> dict[str, Any]:
    return obj("DestinationRule", {"host": host, "exportTo": ["."], "trafficPolicy": traffic_policy})


AUDITED = {"auditedHosts": ["api.stripe.com", "*.bank.example"]}
FIX_GW = audited_hosts.FIX_GATEWAY

CASES: list[tuple[str, ResourceRule, dict[str, Any], dict[str, Any], list[Finding]]] = [
    ("audited passthrough gateway", audited_hosts.RULE, gw_server("PASSTHROUGH"), AUDITED, [
        Finding("spec.servers[0].tls.mode", "PASSTHROUGH",
                "the gateway passes TLS for audited host api.stripe.com through uninspected", FIX_GW)]),
    ("audited auto-passthrough wildcard match", audited_hosts.RULE,
     gw_server("AUTO_PASSTHROUGH", "ns/pay.bank.example"), AUDITED, [
         Finding("spec.servers[0].tls.mode", "AUTO_PASSTHROUGH",
                 "the gateway passes TLS for audited host pay.bank.example through uninspected", FIX_GW)]),
    ("unaudited passthrough is fine", audited_hosts.RULE, gw_server("PASSTHROUGH", "api.github.com"), AUDITED, []),
    ("no audited hosts configured", audited_hosts.RULE, gw_server("PASSTHROUGH"), {}, []),
    ("terminating gateway is fine", audited_hosts.RULE, gw_server("SIMPLE", credentialName="c"), AUDITED, []),
    ("gateway-bound tls route", audited_hosts.RULE, obj("VirtualService", {
        "hosts": ["api.stripe.com"], "gateways": ["mesh", "istio-system/gw"],
        "tls": [{"match": [{"gateways": ["mesh"], "port": 443, "sniHosts": ["api.stripe.com"]}], "route": []},
                {"match": [{"gateways": ["istio-system/gw"], "port": 443, "sniHosts": ["api.stripe.com"]}],
                 "route": []}]}), AUDITED, [
        Finding("spec.tls[1].match[0]", None,
                "a gateway routes audited host api.stripe.com by SNI, passing its TLS through",
                "route it with an http route after the gateway originates or terminates TLS "
                "(EgressRoute tls_mode SIMPLE)")]),
    ("tls route without match gateways inherits the VS gateways", audited_hosts.RULE, obj("VirtualService", {
        "hosts": ["api.stripe.com"], "gateways": ["gw"],
        "tls": [{"match": [{"sniHosts": ["api.stripe.com"]}]}]}), AUDITED, [
        Finding("spec.tls[0].match[0]", None,
                "a gateway routes audited host api.stripe.com by SNI, passing its TLS through",
                "route it with an http route after the gateway originates or terminates TLS "
                "(EgressRoute tls_mode SIMPLE)")]),
    ("origination DR is fine", audited_hosts.RULE,
     dr(portLevelSettings=[{"port": {"number": 443}, "tls": {"mode": "SIMPLE"}}]), AUDITED, []),
    # Only its own namespace's sidecars read it; the gateway reads its own namespace's or the host's.
    ("client-namespace DR only tuning connection pooling", audited_hosts.RULE,
     dr(connectionPool={"tcp": {"maxConnections": 10}}), AUDITED, []),
    ("DR without TLS exported beyond its namespace", audited_hosts.RULE,
     obj("DestinationRule", {"host": "api.stripe.com", "exportTo": ["*"],
                             "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}}}),
     AUDITED, [
        Finding("spec.trafficPolicy.tls", None, "the DestinationRule for audited host api.stripe.com does not "
                "originate TLS", "set tls.mode SIMPLE (or MUTUAL) for the port the gateway uses")]),
    ("DR disabling TLS at port and subset level", audited_hosts.RULE, obj("DestinationRule", {
        "host": "api.stripe.com",
        "trafficPolicy": {"portLevelSettings": [{"port": {"number": 443}, "tls": {"mode": "DISABLE"}}]},
        "subsets": [{"name": "a", "trafficPolicy": {"tls": {"mode": "ISTIO_MUTUAL"}}}]}), AUDITED, [
        Finding("spec.trafficPolicy.portLevelSettings[0].tls.mode", "DISABLE",
                "the DestinationRule for audited host api.stripe.com must originate TLS",
                "set tls.mode SIMPLE (or MUTUAL with a credentialName)"),
        Finding("spec.subsets[0].trafficPolicy.tls.mode", "ISTIO_MUTUAL",
                "the DestinationRule for audited host api.stripe.com must originate TLS",
                "set tls.mode SIMPLE (or MUTUAL with a credentialName)")]),
    ("allowed host", allowed_hosts.RULE, se(), {"allowedHosts": ["*.stripe.com"]}, []),
    ("host not allowed", allowed_hosts.RULE, se(hosts=["api.stripe.com", "evil.example"]),
     {"allowedHosts": ["api.stripe.com"]}, [
        Finding("spec.hosts[1]", "evil.example", "the external host is not in allowedHosts",
                "remove it, or ask the security team to add it to allowedHosts")]),
    ("allowed-hosts unset: not applicable", allowed_hosts.RULE, se(hosts=["evil.example"]), {}, []),
    ("mesh-internal entry is not judged", allowed_hosts.RULE, se(location="MESH_INTERNAL"),
     {"allowedHosts": []}, []),
    ("wildcard host", wildcard_hosts.RULE, se(hosts=["*.stripe.com"]), {}, [
        Finding("spec.hosts[0]", "*.stripe.com", "wildcard hosts allow egress to any name they cover",
                "list the concrete hosts, or add this pattern to allowedWildcards")]),
    ("wildcard excepted", wildcard_hosts.RULE, se(hosts=["*.googleapis.com"]),
     {"allowedWildcards": ["*.googleapis.com"]}, []),
    ("insecureSkipVerify", server_certificates.RULE, obj("DestinationRule", {"host": "a.example", "subsets": [
        {"name": "s", "trafficPolicy": {"portLevelSettings": [
            {"port": {"number": 443}, "tls": {"mode": "SIMPLE", "insecureSkipVerify": True}}]}}]}), {}, [
        Finding("spec.subsets[0].trafficPolicy.portLevelSettings[0].tls.insecureSkipVerify", True,
                "the server certificate is not verified",
                "remove insecureSkipVerify; give a CA with credentialName if the host's CA is private")]),
    ("insecureSkipVerify false is fine", server_certificates.RULE,
     dr(tls={"mode": "SIMPLE", "insecureSkipVerify": False}), {}, []),
    ("MUTUAL DR without credential", mutual_credentials.RULE, dr(tls={"mode": "MUTUAL"}), {}, [
        Finding("spec.trafficPolicy.tls.credentialName", None, "MUTUAL TLS origination has no client certificate",
                "set credentialName to a Secret (tls.crt, tls.key, ca.crt) in the gateway namespace")]),
    ("MUTUAL DR with files", mutual_credentials.RULE,
     dr(tls={"mode": "MUTUAL", "clientCertificate": "/c", "privateKey": "/k"}), {}, []),
    ("MUTUAL gateway without credential", mutual_credentials.RULE, gw_server("MUTUAL"), {}, [
        Finding("spec.servers[0].tls.credentialName", None,
                "a MUTUAL server has no certificate and CA to verify clients",
                "set credentialName to a Secret with tls.crt, tls.key and ca.crt in the gateway namespace")]),
    ("MUTUAL gateway with credential", mutual_credentials.RULE, gw_server("MUTUAL", credentialName="c"), {}, []),
    ("ServiceEntry without exportTo", export_scope.RULE, se(exportTo=None), {}, [
        Finding("spec.exportTo", None, "unset exportTo exports the object to every namespace's sidecars (ztunnel "
                "and waypoints ignore exportTo: it never scopes ambient clients)",
                "set exportTo to '.' and the client namespaces that need it")]),
    ("ServiceEntry exported to *", export_scope.RULE, se(exportTo=[".", "*"]), {}, [
        Finding("spec.exportTo[1]", "*", "'*' exports the object to every namespace's sidecars (ztunnel and "
                "waypoints ignore exportTo: it never scopes ambient clients)",
                "list '.' and the client namespaces that need it instead")]),
    ("egress gateway DR without exportTo", export_scope.RULE, obj("DestinationRule", {
        "host": "istio-egressgateway.istio-system.svc.cluster.local", "subsets": [{"name": "a"}]}), {}, [
        Finding("spec.exportTo", None, "unset exportTo exports the object to every namespace",
                "set exportTo to '.' and the client namespaces that need it")]),
    ("in-mesh VS is not egress", export_scope.RULE, obj("VirtualService", {"hosts": ["reviews"]}), {}, []),
    ("resolution NONE", dns_resolution.RULE, se(resolution="NONE"), {}, [
        Finding("spec.resolution", "NONE", "an external host must be resolved by DNS so traffic goes to that host "
                "only", PIN_FIX)]),
    ("resolution unset defaults to NONE", dns_resolution.RULE, se(resolution=None) | {"spec": {
        "hosts": ["api.stripe.com"]}}, {}, [
        Finding("spec.resolution", "NONE", "an external host must be resolved by DNS so traffic goes to that host "
                "only", PIN_FIX)]),
    ("wildcard with NONE is left to no-wildcard-hosts", dns_resolution.RULE,
     se(hosts=["*.stripe.com"], resolution="NONE"), {}, []),
    # Istio's samples/external/github.yaml: CIDR addresses, which istiod refuses with DNS resolution.
    ("NONE with CIDR addresses is pinned to them", dns_resolution.RULE,
     se(hosts=["dummy.github.com"], addresses=["140.82.112.0/20"], resolution="NONE",
        ports=[{"number": 22, "name": "tcp", "protocol": "TCP"}]), {}, []),
    ("STATIC goes to its endpoints only", dns_resolution.RULE, se(resolution="STATIC"), {}, []),
    ("NONE with an empty addresses list is not pinned", dns_resolution.RULE,
     se(addresses=[], resolution="NONE"), {}, [
        Finding("spec.resolution", "NONE", "an external host must be resolved by DNS so traffic goes to that host "
                "only", PIN_FIX)]),
    ("without allowedPorts any port is fine (not applicable)", allowed_ports.RULE,
     se(ports=[{"number": 443, "name": "a", "protocol": "TLS"}, {"number": 8443.0, "name": "b", "protocol": "TLS"}]),
     {}, []),
    ("port 8443 not in allowedPorts", allowed_ports.RULE,
     se(ports=[{"number": 443, "name": "a", "protocol": "TLS"}, {"number": 8443.0, "name": "b", "protocol": "TLS"}]),
     {"allowedPorts": [80, 443]}, [Finding("spec.ports[1].number", 8443, "the port is not in allowedPorts",
                                           "use one of [80, 443], or have it added to allowedPorts")]),
    ("port allowed by config", allowed_ports.RULE, se(ports=[{"number": 8443, "name": "b", "protocol": "TLS"}]),
     {"allowedPorts": [8443]}, []),
]


@pytest.mark.parametrize(("rule", "manifest", "config", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rule(rule: ResourceRule, manifest: dict[str, Any], config: dict[str, Any],
              expected: list[Finding]) -> None:
    assert list(rule.check(manifest, {**rule.defaults(), **config})) == expected


MALFORMED: list[Any] = [
    {}, {"kind": "ServiceEntry"}, {"apiVersion": NET, "kind": "ServiceEntry", "spec": None},
    {"apiVersion": NET, "kind": "Gateway", "spec": {"servers": "x"}},
    {"apiVersion": NET, "kind": "Gateway", "spec": {"servers": [None, {"tls": "x", "hosts": [1, None]}]}},
    {"apiVersion": NET, "kind": "VirtualService", "spec": {"tls": [{"match": "x"}, {"match": [None]}],
                                                           "gateways": 3}},
    {"apiVersion": NET, "kind": "DestinationRule", "spec": {"host": 5, "trafficPolicy": [],
                                                            "subsets": [{"trafficPolicy": {"portLevelSettings": 1}}]}},
    {"apiVersion": NET, "kind": "ServiceEntry", "spec": {"hosts": "api.stripe.com", "ports": [{"number": "x"}],
                                                         "exportTo": "*"}},
    {"apiVersion": NET, "kind": "DestinationRule", "metadata": "x", "spec": {"host": "api.stripe.com"}},
]


@pytest.mark.parametrize("manifest", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
@pytest.mark.parametrize("rule", list({c[1].name: c[1] for c in CASES}.values()), ids=lambda r: r.name)
def test_malformed_manifests_never_raise(rule: ResourceRule, manifest: Any) -> None:
    config = {**rule.defaults(), **AUDITED, "allowedHosts": ["api.stripe.com"]}
    for finding in rule.check(manifest, config):
        assert isinstance(finding, Finding)


def test_policy_config_example_names_every_option() -> None:
    example = yaml.safe_load((Path(__file__).parents[1] / "policy-config.example.json").read_text())
    from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES
    rules = {r.name: r for r in (*RESOURCE_RULES, *STACK_RULES)}
    assert sorted(example) == sorted([*rules, "istio-egress-advisories"])
    assert example["istio-egress-advisories"] == {"enforcementLevel": "advisory"}
    for name, rule in rules.items():
        assert set(example[name]) == {"enforcementLevel", *rule.config_schema}, name


CRD_FILE = str(Path(__file__).parents[2] / "shared" / "reference" / "istio-crds" / "crd-all.gen.yaml")
BAD_ENTRY = obj("ServiceEntry", {"hosts": ["a.example.com"], "hostz": 1, "resolution": "DNS",
                                 "ports": [{"number": 0, "name": "h", "protocol": "HTTP"}]})
WEBHOOK_PORT = Finding("spec.ports[0].number", 0, "port number 0 must be in the range 1..65535",
                       "Use a port number from 1 to 65535")


@pytest.mark.parametrize(("config", "expected"), [
    ({"crdFiles": []}, [WEBHOOK_PORT]),
    # One finding per fact: both layers refuse port 0, and the API server's words are kept (it
    # validates against the CRD before calling istiod's webhook).
    ({"crdFiles": [os.environ.get("ISTIO_CRDS", CRD_FILE)]}, [
        Finding("spec.hostz", 1, "field not declared in schema", "Did you mean `hosts`? Otherwise remove `hostz`"),
        Finding("spec.ports[0].number", 0, 'Invalid value: "integer": port must be between 1-65535',
                "Change spec.ports[0].number so that the rule `0 < self && self <= 65535` holds"),
    ]),
], ids=["webhook layer only", "with the cluster's CRDs"])
def test_istio_valid_layers(config: dict[str, Any], expected: list[Finding], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ISTIO_CRDS", raising=False)
    assert list(istio_valid.RULE.check(BAD_ENTRY, config)) == expected


def test_istio_valid_reads_the_same_environment_variable_as_conformance() -> None:
    from pulumi_istio_egress.conformance import DEFAULT_CRDS_ENV

    assert istio_valid.CRDS_ENV == DEFAULT_CRDS_ENV
