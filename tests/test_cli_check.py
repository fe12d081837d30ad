"""`check` and `diagram` end to end through the command line entry point."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pulumi_istio_egress.cli import main as cli

ROOT = Path(__file__).parents[1]
PACK = str(ROOT / "policy")
FIXTURES = Path(__file__).parent / "fixtures"
BLOG = str(FIXTURES / "manifests" / "blog-recipe.yaml")


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    code = cli.main(argv)
    return code, out.getvalue(), err.getvalue()


SERVER_CERT = ("spec.servers[0].tls.serverCertificate: SIMPLE TLS requires a server certificate. Fix: Set "
               "credentialName to the Secret with the server certificate and key (in the gateway's namespace), or "
               "set serverCertificate and privateKey")
PRIVATE_KEY = ("spec.servers[0].tls.privateKey: SIMPLE TLS requires a private key. Fix: Set credentialName to the "
               "Secret with the server certificate and key (in the gateway's namespace), or set serverCertificate "
               "and privateKey")
NO_MESH_ROUTE = ("spec.hosts[0]: no VirtualService bound to mesh routes api.stripe.com to the egress gateway, so "
                 "sidecars send it straight to the host and bypass the gateway (its policy and audit do not apply) "
                 "(got 'api.stripe.com'). Fix: add a VirtualService for api.stripe.com bound to mesh whose route "
                 "sends it to the egress gateway Service and subset, with a DestinationRule defining the subset "
                 "(EgressRoute emits both)")
NO_GATEWAY_ROUTE = ("spec.hosts[0]: no VirtualService bound to Gateway istio-system/stripe-egress routes "
                    "api.stripe.com on to the host, so the gateway accepts the connection but has no route for it "
                    "(got 'api.stripe.com'). Fix: add a VirtualService for api.stripe.com bound to Gateway "
                    "istio-system/stripe-egress whose route's destination host is api.stripe.com")
NO_NETWORK_POLICY = ("spec.exportTo[0]: namespace payments uses egress routes (api.stripe.com), but no NetworkPolicy "
                     "there restricts the egress of all its pods (podSelector {} with Egress in policyTypes), so a pod "
                     "can open a socket to any address and bypass the egress gateway (got 'payments'). Fix: declare "
                     "EgressLockdown(namespace='payments'), or apply its YAML (`pulumi-istio-egress render`): a "
                     "NetworkPolicy in payments with podSelector {}, policyTypes [Egress] and egress rules only for "
                     "DNS, in-cluster pods and the CIDRs the pods must reach")
NOT_REGISTRY_ONLY = ("spec.exportTo[0]: namespace payments uses egress routes (api.stripe.com), but its sidecars are "
                     "not REGISTRY_ONLY: no Sidecar without workloadSelector in payments or in the root namespace "
                     "istio-system, and the mesh's outboundTrafficPolicy is ALLOW_ANY, so sidecars pass hosts the "
                     "mesh does not know straight out (got 'payments'). Fix: declare "
                     "EgressLockdown(namespace='payments'), or apply its YAML (`pulumi-istio-egress render`): a "
                     "Sidecar in payments without workloadSelector, with outboundTrafficPolicy {mode: REGISTRY_ONLY} "
                     "and egress hosts importing the gateway's namespace")
BLOG_VIOLATIONS = [
    ("mandatory", "istio-valid", "Gateway istio-system/stripe-egress", SERVER_CERT),
    ("mandatory", "istio-valid", "Gateway istio-system/stripe-egress", PRIVATE_KEY),
    ("mandatory", "egress-via-gateway", "ServiceEntry payments/stripe", NO_MESH_ROUTE),
    ("mandatory", "egress-via-gateway", "ServiceEntry payments/stripe", NO_GATEWAY_ROUTE),
    ("advisory", "egress-lockdown", "ServiceEntry payments/stripe", NO_NETWORK_POLICY),
    ("advisory", "egress-lockdown", "ServiceEntry payments/stripe", NOT_REGISTRY_ONLY),
]
# Not egress-visibility: no mesh route says where the gateway runs, and a gateway finds this
# DestinationRule anyway (exported from the host's namespace, SidecarScope.DestinationRule).


def test_compliant_program_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    # A route and the lockdown of its client namespace: nothing left to report, not even advisories.
    program = str(ROOT / "examples" / "lockdown")
    assert run(["check", program, "--policy-pack", PACK], monkeypatch)[:2] == (
        0, "No policy violations (7 objects judged).\n")


def test_violating_yaml_fails_with_text_like_pulumi_preview(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["check", BLOG, "--policy-pack", PACK], monkeypatch)
    lines = ["Policy violations:"]
    for level, policy, ref, message in BLOG_VIOLATIONS:
        lines += [f"    [{level}]  {policy}  ({ref})", f"        {message}"]
    assert (code, out) == (1, "\n".join([*lines, "4 mandatory, 2 advisory violation(s) (3 objects judged)"]) + "\n")


def test_json_format(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["check", BLOG, "--policy-pack", PACK, "--format", "json"], monkeypatch)
    kinds = {"Gateway": "Gateway", "ServiceEntry": "ServiceEntry", "DestinationRule": "DestinationRule"}
    expected = [{
        "level": level, "message": message, "object": ref, "pack": "istio-egress", "policy": policy,
        "source": BLOG,
        "urn": "urn:pulumi:stack::project::kubernetes:networking.istio.io/v1:"
               f"{kinds[ref.split()[0]]}::{ref.split()[1]}",
    } for level, policy, ref, message in BLOG_VIOLATIONS]
    assert (code, json.loads(out)) == (1, expected)


def test_sarif_format(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["check", BLOG, "--policy-pack", PACK, "--format", "sarif"], monkeypatch)
    log = json.loads(out)
    assert code == 1
    assert log["version"] == "2.1.0"
    assert [r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]] == [
        "egress-lockdown", "egress-via-gateway", "istio-valid"]
    assert log["runs"][0]["results"] == [{
        "ruleId": policy, "level": {"mandatory": "error", "advisory": "warning"}[level], "message": {"text": message},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": BLOG}},
                       "logicalLocations": [{"fullyQualifiedName": ref, "kind": "resource"}]}],
    } for level, policy, ref, message in BLOG_VIOLATIONS]


BROKEN = [
    (["check", "no/such/dir"], "error: no/such/dir: no such program directory or manifest file\n"),
    (["check", str(FIXTURES / "cli" / "not-an-object.yaml")],
     f"error: {FIXTURES / 'cli' / 'not-an-object.yaml'}: document 2: not a Kubernetes object but a list\n"),
    (["check", BLOG, "--policy-pack", str(FIXTURES)],
     f"error: {FIXTURES}: not a policy pack (no PulumiPolicy.yaml); pass --policy-pack DIR\n"),
    (["check", BLOG, "--policy-config", "missing.json"],
     "error: missing.json: cannot read policy config: [Errno 2] No such file or directory: 'missing.json'\n"),
    (["check", BLOG, "--policy-config", str(FIXTURES / "cli" / "wrong-type.json")],
     "error: policy pack config is invalid: allowed-ports: allowedPorts: '443' is not of type 'array'\n"),
]


@pytest.mark.parametrize(("argv", "message"), BROKEN, ids=[" ".join(a[1:2]) + str(i) for i, (a, _) in
                                                           enumerate(BROKEN)])
def test_broken_input_exits_2_with_one_clear_line(argv: list[str], message: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if "--policy-pack" not in argv:
        argv = [*argv, "--policy-pack", PACK]
    assert run(argv, monkeypatch) == (2, "", message)


def test_diagram(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["diagram", str(ROOT / "examples" / "passthrough")], monkeypatch)
    assert (code, out) == (0, "\n".join([
        "flowchart LR",
        '    subgraph route0["egress to api.stripe.com"]',
        '        route0_app["app"] -->|"TLS from the app (SNI api.stripe.com)"| route0_sidecar["sidecar"]',
        '        route0_sidecar -->|"app\'s TLS, routed by SNI"| '
        'route0_gateway["egress gateway istio-system/egress-api-stripe-com"]',
        '        route0_gateway -->|"app\'s TLS passed through"| route0_host["api.stripe.com:443"]',
        "    end",
    ]) + "\n")


def test_diagram_ambient(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(["diagram", str(ROOT / "examples" / "ambient")], monkeypatch)
    waypoint = 'route{n}_waypoint["waypoint istio-egress/egress-api-github-com-waypoint"]'
    assert (code, out) == (0, "\n".join([
        "flowchart LR",
        '    subgraph route0["egress to api.github.com"]',
        '        route0_app["app"] -->|"HTTP from the app"| route0_ztunnel["ztunnel"]',
        '        route0_ztunnel -->|"HBONE (mTLS)"| ' + waypoint.format(n=0),
        '        route0_waypoint -->|"TLS originated at the waypoint (SIMPLE)"| route0_host["api.github.com:443"]',
        "    end",
        '    subgraph route1["egress to api.stripe.com"]',
        '        route1_app["app"] -->|"TLS from the app (SNI api.stripe.com)"| route1_ztunnel["ztunnel"]',
        '        route1_ztunnel -->|"HBONE (mTLS)"| ' + waypoint.format(n=1),
        '        route1_waypoint -->|"app\'s TLS passed through"| route1_host["api.stripe.com:443"]',
        "    end",
    ]) + "\n")


BROKEN_PIPE = [
    pytest.param(["--help"], id="help"),
    pytest.param(["--version"], id="version"),
    pytest.param(["pack-dir"], id="pack-dir"),
    pytest.param(["render", str(ROOT / "examples" / "passthrough")], id="render"),
    pytest.param(["check", BLOG, "--policy-pack", PACK], id="check-violations"),
    pytest.param(["check", str(ROOT / "examples" / "lockdown"), "--policy-pack", PACK], id="check-compliant"),
    pytest.param(["check", BLOG, "--policy-pack", PACK, "--format", "sarif"], id="check-sarif"),
    pytest.param(["diagram", BLOG], id="diagram"),
]


@pytest.mark.parametrize("argv", BROKEN_PIPE)
def test_a_reader_that_left_is_a_write_error_without_a_traceback(argv: list[str]) -> None:
    # `... | head -1` (issue 11): a pipe whose reader is gone before anything is written, so every
    # write fails with EPIPE. The output is incomplete: exit 2, never a verdict; nothing on stderr.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "pulumi_istio_egress", *argv], stdout=write_end,
                                stderr=subprocess.PIPE, timeout=300, check=False)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr.decode()) == (2, "")


@pytest.mark.parametrize(
    ("inputs", "urn"),
    [
        pytest.param([BLOG, BLOG], "urn:pulumi:stack::project::kubernetes:networking.istio.io/v1:ServiceEntry::"
                     "payments/stripe", id="one-file-twice"),
        pytest.param([str(FIXTURES / "cli" / "twice.yaml")],
                     "urn:pulumi:stack::project::kubernetes:core/v1:ConfigMap::apps/a", id="within-a-file"),
    ],
)
def test_an_object_declared_twice_is_refused_naming_the_first_repeat(
    inputs: list[str], urn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run(["check", *inputs, "--policy-pack", PACK], monkeypatch) == (
        2, "", f"error: the same object is declared twice: {urn}\n")
