"""What ``policies/sdk.py`` reads of pulumi-policy's internals, and ``cli/program_process.py``'s
one hook into pulumi's: each test fails loudly when an upgrade changes it (the proxies,
Remediate's secrets proxies, the unknown sentinels, AnalyzeStack's frame, ``_OutputData``)."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import os
import re
import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format, struct_pb2
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, deserialize_properties
from pulumi_policy.proxy import UNKNOWN_NUMBER_VALUE, UNKNOWN_STRING_VALUE, unknown_checking_proxy
from pulumi_policy.secret import Secret
from test_stack_rules import ROUTES, STACKS, route_stack, stack

from pulumi_istio_egress.cli import program_process
from pulumi_istio_egress.cli.pack_client import PolicyPackProcess, Resource
from pulumi_istio_egress.policies import STACK_RULES, pack, sdk


def as_the_sdk_gives_it(props: dict[str, Any], *, remediate: bool = False) -> Any:
    """Props exactly as pulumi-policy hands them to a policy (policy.py Analyze/AnalyzeStack, or
    Remediate, which puts ``secrets_preserving_proxy`` inside the unknown-checking proxy)."""
    struct = struct_pb2.Struct()
    struct.update(props)
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct), remediate))


def _secret(value: Any) -> dict[str, Any]:
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value}


PROPS = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
         "metadata": {"name": "se", "labels": {"a": "b"}},
         "spec": {"hosts": ["api.example.com"], "ports": [{"number": 443.0, "name": "tls"}], "empty": [],
                  "nested": [[{"x": True}], None]}}


def test_unwrap_gives_the_plain_value_behind_the_proxies() -> None:
    proxied = as_the_sdk_gives_it(PROPS)
    assert type(proxied).__name__ == "_DictProxy"
    plain, unknown = sdk.unwrap(proxied)
    assert (plain, unknown) == (PROPS, False)
    assert type(plain) is dict and type(plain["spec"]["ports"]) is list and type(plain["spec"]["ports"][0]) is dict


@pytest.mark.parametrize(("props", "expected"), [
    pytest.param(PROPS, PROPS, id="no-secrets"),
    pytest.param({"kind": "Secret", "stringData": {"key": _secret("hunter2")},
                  "list": [_secret("s"), "t"]},
                 {"kind": "Secret", "stringData": {"key": Secret("hunter2")}, "list": [Secret("s"), "t"]},
                 id="secrets-stay-secrets"),
])
def test_remediation_props_are_plain_with_secrets_kept(props: dict[str, Any], expected: dict[str, Any]) -> None:
    # pulumi_policy/secret.py's proxies read a secret as its plain value: a remediation that
    # returned what it read would write the secret back unencrypted.
    proxied = as_the_sdk_gives_it(props, remediate=True)
    assert type(proxied).__name__ == "_DictSecretsProxy"  # unknown_checking_proxy passes it through
    plain = sdk.remediation_props(proxied)
    assert _comparable(plain) == _comparable(expected)


def _comparable(value: Any) -> Any:
    # pulumi_policy.Secret has no __eq__: compare it as a marked value.
    if isinstance(value, Secret):
        return ("secret", _comparable(value.value))
    if type(value) is dict:
        return {key: _comparable(item) for key, item in value.items()}
    if type(value) is list:
        return [_comparable(item) for item in value]
    return value  # a proxy left in place compares unequal to the plain value expected


@pytest.mark.parametrize(("props", "blanked", "paths"), [
    ({"spec": {"host": UNKNOWN_STRING_VALUE}}, {"spec": {"host": None}}, [("spec.host", UNKNOWN_STRING_VALUE)]),
    ({"spec": {"ports": [{"number": UNKNOWN_NUMBER_VALUE}], "h": [UNKNOWN_STRING_VALUE, "x"]}},
     {"spec": {"ports": [{"number": None}], "h": [None, "x"]}},
     [("spec.ports[0].number", UNKNOWN_NUMBER_VALUE), ("spec.h[0]", UNKNOWN_STRING_VALUE)]),
])
def test_unknown_values_are_found_with_their_paths(props: dict[str, Any], blanked: dict[str, Any],
                                                   paths: list[tuple[str, str]]) -> None:
    plain, unknown = sdk.unwrap(as_the_sdk_gives_it(props))
    assert unknown is True
    assert sdk.blank_unknowns(plain) == paths
    assert plain == blanked


def test_raise_unknown_is_the_sdks_error() -> None:
    with pytest.raises(sdk.UnknownValueError) as raised:
        sdk.raise_unknown("spec.ports[0].number", UNKNOWN_NUMBER_VALUE)
    assert raised.value.message == "number value at .spec.ports.0.number can't be known during preview"


def test_no_request_outside_the_servicer() -> None:
    assert (sdk.analyze_stack_request(), sdk.analyze_request()) == (None, None)


STACK_SHARING_PACK = """
from pulumi_policy import PolicyPack, StackValidationPolicy
from pulumi_istio_egress.policies.pack import stack_manifests

def seen(args, report_violation):
    view = stack_manifests(args)
    report_violation(f"view={id(view)} objects={len(view.manifests)}")

PolicyPack("sharing", [StackValidationPolicy("first", "First.", validate=seen),
                       StackValidationPolicy("second", "Second.", validate=seen)])
"""

RESOURCE_SHARING_PACK = """
from pulumi_policy import PolicyPack, ResourceValidationPolicy
from pulumi_istio_egress.policies.pack import resource_manifest

def seen(args, report_violation):
    manifest, _ = resource_manifest(args)
    report_violation(f"manifest={id(manifest)} name={manifest['metadata']['name']}")

PolicyPack("sharing", [ResourceValidationPolicy("first", "First.", validate=seen),
                       ResourceValidationPolicy("second", "Second.", validate=seen)])
"""

X, Y = (Resource.from_manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n, "namespace": "a"}})
        for n in ("x", "y"))


@pytest.mark.parametrize(("pack_source", "requests", "said"), [
    pytest.param(STACK_SHARING_PACK, lambda p: (p.analyze_stack([X, Y]), p.analyze_stack([X])),
                 ("objects=2", "objects=1"), id="stack-policies-of-one-AnalyzeStack"),
    pytest.param(RESOURCE_SHARING_PACK, lambda p: (p.analyze(X), p.analyze(Y)),
                 ("name=x", "name=y"), id="resource-policies-of-one-Analyze"),
])
def test_policies_of_one_request_share_one_conversion(tmp_path: Path, pack_source: str, requests: Any,
                                                      said: tuple[str, str]) -> None:
    # Through the real protocol: both policies of one request see the same converted object; the
    # next request gets a new one (its content may differ, e.g. preview then update).
    directory = tmp_path / "sharing"
    directory.mkdir()
    (directory / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (directory / "__main__.py").write_text(textwrap.dedent(pack_source))
    with PolicyPackProcess(directory) as process:
        first, second = ([v.message.splitlines()[-1] for v in found] for found in requests(process))
    assert len(first) == 2 and first[0] == first[1] and first[0].endswith(said[0])
    assert len(second) == 2 and second[0] == second[1] and second[0].endswith(said[1])
    assert first[0] != second[0]


@pytest.mark.parametrize("manifests", [route_stack(p) for p in ROUTES] + [stack(p.stem) for p in STACKS])
def test_stack_rules_never_change_what_they_read(manifests: list[dict[str, Any]]) -> None:
    # The stack policies of one request share one list of manifests: a rule that wrote into it
    # would change what the next rule judges.
    before = copy.deepcopy(manifests)
    for rule in STACK_RULES:
        list(rule.check(manifests, rule.defaults()))
    assert manifests == before


def test_to_manifest_fills_kind_from_the_type_token() -> None:
    manifest, unknown = pack.to_manifest("kubernetes:networking.k8s.io/v1:NetworkPolicy",
                                         as_the_sdk_gives_it({"metadata": {"name": "n"}}))
    assert (manifest, unknown) == ({"metadata": {"name": "n"}, "apiVersion": "networking.k8s.io/v1",
                                    "kind": "NetworkPolicy"}, [])


def _dependency_range(package: str) -> str:
    project = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = project["project"]["dependencies"] + [
        r for extra in project["project"]["optional-dependencies"].values() for r in extra
    ]
    for requirement in requirements:
        match = re.fullmatch(rf"{re.escape(package)}\s*([<>=!~].*)", requirement)
        if match:
            return match.group(1).replace(" ", "")
    raise AssertionError(f"{package} is not a dependency")


@pytest.mark.parametrize(("package", "checked"), [
    ("pulumi-policy", sdk.SDK_CHECKED),
    ("pulumi", program_process.PULUMI_CHECKED),
])
def test_the_checked_range_is_the_range_pyproject_allows(package: str, checked: str) -> None:
    # Widening pyproject's range means reading the internals again against the new versions.
    assert _dependency_range(package) == checked


def test_program_process_hook_sees_every_resolved_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # cli/program_process.py hooks pulumi.output._OutputData.__post_init__ (pulumi/output.py): every
    # resolved Output is built as one. If an upgrade renames or drops it, the hook quietly does
    # nothing in the child; here the attribute lookup or the frame comparison fails instead.
    import pulumi
    import pulumi.output as pulumi_output

    data_class = pulumi_output._OutputData
    assert {field.name for field in dataclasses.fields(data_class)} >= {"value", "is_known", "is_secret"}
    monkeypatch.setattr(data_class, "__post_init__", data_class.__post_init__)  # restored after the test
    read_fd, write_fd = os.pipe()
    try:
        program_process._report_secrets(write_fd)

        async def resolve() -> Any:
            return await pulumi.Output.secret("hunter2").apply(lambda text: text + "!").future()

        loop = asyncio.new_event_loop()
        try:
            value = loop.run_until_complete(resolve())
        finally:
            loop.close()
        os.close(write_fd)
        frames = os.read(read_fd, 4096)
    finally:
        os.close(read_fd)
    assert value == "hunter2!"
    assert frames == b"S 7\nhunter2S 8\nhunter2!"
