"""The Analyzer client against a real policy pack subprocess (tests/fixtures/packs/sample)."""

from __future__ import annotations

import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc

from pulumi_istio_egress.cli.pack_client import (
    UNKNOWN,
    PackInfo,
    PolicyInfo,
    PolicyPackError,
    PolicyPackProcess,
    Resource,
    Secret,
    Violation,
    reconcile_config,
    run_pack,
)

SAMPLE = Path(__file__).parent / "fixtures" / "packs" / "sample"

TEAM = "require-team-label"
TEAM_DESC = "Every Kubernetes object carries a team label."
SIZE = "max-resources"
SIZE_DESC = "A stack stays small."
ROOT = "urn:pulumi:stack::project::pulumi:pulumi:Stack::project-stack"

# Numbers come back as floats: the schema travels as a protobuf Struct, as it does to the CLI.
SAMPLE_INFO = PackInfo(
    name="sample-pack",
    version="1.2.3",  # PulumiPolicy.yaml wins over the "0.0.1" every Python pack reports
    policies=(
        PolicyInfo(
            name=SIZE,
            description=SIZE_DESC,
            enforcement_level="advisory",
            config_schema={
                "type": "object",
                "properties": {
                    "maxResources": {"type": "integer", "minimum": 1.0, "default": 3.0},
                    "forbiddenNamespaces": {"type": "array", "items": {"type": "string"}},
                },
                "required": ["maxResources"],
            },
        ),
        PolicyInfo(name=TEAM, description=TEAM_DESC, enforcement_level="mandatory", config_schema=None),
    ),
    # The pack gave properties only; over the wire the missing level reads as advisory.
    initial_config={SIZE: {"enforcementLevel": "advisory", "forbiddenNamespaces": ["kube-system"]}},
)

DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    SIZE: {"enforcementLevel": "advisory", "maxResources": 3.0, "forbiddenNamespaces": ["kube-system"]},
    TEAM: {"enforcementLevel": "mandatory"},
}


def manifest(name: str, namespace: str | None = "apps", team: str | None = "web") -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "labels": {"team": team} if team else {"app": name}}
    if namespace:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": {"k": "v"}}


def cm(name: str, namespace: str | None = "apps", team: str | None = "web") -> Resource:
    return Resource.from_manifest(manifest(name, namespace, team))


def cm_urn(name: str, namespace: str = "apps") -> str:
    return f"urn:pulumi:stack::project::kubernetes:core/v1:ConfigMap::{namespace}/{name}"


def team_violation(name: str, level: str = "mandatory", namespace: str = "apps") -> Violation:
    qualified = f"{namespace}/{name}"
    return Violation(
        TEAM, TEAM_DESC, f"{TEAM_DESC}\n{qualified} has no 'team' label", level, cm_urn(name, namespace), "sample-pack"
    )


def size_violation(message: str, urn: str = ROOT, level: str = "advisory") -> Violation:
    return Violation(SIZE, SIZE_DESC, f"{SIZE_DESC}\n{message}", level, urn, "sample-pack")


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    with PolicyPackProcess(SAMPLE) as process:
        yield process


def write_pack(directory: Path, main: str | None, runtime: str = "python") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "PulumiPolicy.yaml").write_text(f"runtime: {runtime}\n")
    if main is not None:
        (directory / "__main__.py").write_text(textwrap.dedent(main))
    return directory


# --- pack info and config ------------------------------------------------------------------------


def test_info_is_what_the_cli_sees(pack: PolicyPackProcess) -> None:
    assert pack.info == SAMPLE_INFO


@pytest.mark.parametrize(
    ("config_file", "expected"),
    [
        pytest.param(None, DEFAULT_CONFIG, id="defaults-then-initial-config"),
        pytest.param({}, DEFAULT_CONFIG, id="empty-file"),
        pytest.param({SIZE: {}}, DEFAULT_CONFIG, id="empty-entry-ignored"),
        pytest.param(
            {TEAM: "disabled"},
            {**DEFAULT_CONFIG, TEAM: {"enforcementLevel": "disabled"}},
            id="level-as-string",
        ),
        pytest.param(
            {SIZE: {"enforcementLevel": "mandatory", "maxResources": 10}},
            {
                **DEFAULT_CONFIG,
                SIZE: {"enforcementLevel": "mandatory", "maxResources": 10, "forbiddenNamespaces": ["kube-system"]},
            },
            id="file-overrides-level-and-merges-props",
        ),
        pytest.param(
            {SIZE: {"forbiddenNamespaces": []}},
            {**DEFAULT_CONFIG, SIZE: {"enforcementLevel": "advisory", "maxResources": 3.0, "forbiddenNamespaces": []}},
            id="file-replaces-initial-config-prop",
        ),
        pytest.param(
            {"all": "disabled"},
            {SIZE: {**DEFAULT_CONFIG[SIZE], "enforcementLevel": "disabled"}, TEAM: {"enforcementLevel": "disabled"}},
            id="all",
        ),
        pytest.param(
            {"all": {"enforcementLevel": "remediate"}},
            {SIZE: {**DEFAULT_CONFIG[SIZE], "enforcementLevel": "remediate"}, TEAM: {"enforcementLevel": "remediate"}},
            id="all-as-object",
        ),
        pytest.param(
            {"all": "advisory", TEAM: "mandatory"},
            {SIZE: DEFAULT_CONFIG[SIZE], TEAM: {"enforcementLevel": "mandatory"}},
            id="policy-entry-beats-all",
        ),
        pytest.param(
            {"all": "mandatory", SIZE: {"maxResources": 5}},
            {
                SIZE: {"enforcementLevel": "mandatory", "maxResources": 5, "forbiddenNamespaces": ["kube-system"]},
                TEAM: {"enforcementLevel": "mandatory"},
            },
            id="missing-level-keeps-reconciled-level-not-advisory",
        ),
    ],
)
def test_reconcile_config(config_file: dict[str, Any] | None, expected: dict[str, dict[str, Any]]) -> None:
    assert reconcile_config(SAMPLE_INFO, config_file) == expected


REQUIRED_INFO = PackInfo(
    name="p",
    version="1",
    policies=(
        PolicyInfo(
            "needs-limit",
            "d",
            "mandatory",
            {"type": "object", "properties": {"limit": {"type": "integer"}}, "required": ["limit"]},
        ),
    ),
    initial_config={},
)


@pytest.mark.parametrize(
    ("info", "config_file", "message"),
    [
        pytest.param(
            SAMPLE_INFO,
            {"no-such-policy": "mandatory"},
            "policy pack config: unknown policy 'no-such-policy'; pack sample-pack has max-resources, "
            "require-team-label",
            id="unknown-policy",
        ),
        pytest.param(
            SAMPLE_INFO,
            {SIZE: {"maxResources": 0}},
            "policy pack config is invalid: max-resources: maxResources: 0 is less than the minimum of 1.0",
            id="schema-minimum",
        ),
        pytest.param(
            SAMPLE_INFO,
            {SIZE: {"maxResources": "ten", "forbiddenNamespaces": ["ok", 7]}},
            "policy pack config is invalid: max-resources: forbiddenNamespaces.1: 7 is not of type 'string'; "
            "max-resources: maxResources: 'ten' is not of type 'integer'",
            id="schema-types-all-reported",
        ),
        pytest.param(
            REQUIRED_INFO,
            None,
            "policy pack config is invalid: needs-limit: limit: 'limit' is a required property",
            id="schema-required-without-default",
        ),
        pytest.param(
            SAMPLE_INFO,
            {TEAM: "strict"},
            "policy pack config: require-team-label: enforcementLevel 'strict' is not one of advisory, "
            "mandatory, remediate, disabled",
            id="invalid-level",
        ),
        pytest.param(
            SAMPLE_INFO,
            {TEAM: {"enforcementLevel": 1}},
            "policy pack config: require-team-label: enforcementLevel 1 is not one of advisory, "
            "mandatory, remediate, disabled",
            id="level-not-a-string",
        ),
        pytest.param(
            SAMPLE_INFO,
            {TEAM: 3},
            "policy pack config: require-team-label: 3 is not a valid value; use a level or an object",
            id="entry-neither-level-nor-object",
        ),
        pytest.param(
            SAMPLE_INFO,
            {"all": {"maxResources": 5}},
            "policy pack config: all: only enforcementLevel applies to all policies, got maxResources",
            id="all-with-properties",
        ),
        pytest.param(
            SAMPLE_INFO,
            {"environments": ["prod"]},
            "policy pack config: 'environments' (Pulumi ESC) is not supported offline",
            id="esc-environments",
        ),
    ],
)
def test_reconcile_config_errors(info: PackInfo, config_file: dict[str, Any] | None, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        reconcile_config(info, config_file)
    assert str(raised.value) == message


@pytest.mark.parametrize(
    ("config", "message"),
    [
        pytest.param(
            {TEAM: {}},
            "configure: require-team-label: enforcementLevel None is missing or invalid; "
            "the pack would read it as advisory",
            id="missing-level",
        ),
        pytest.param(
            {SIZE: {"enforcementLevel": "off", "maxResources": 3}},
            "configure: max-resources: enforcementLevel 'off' is missing or invalid; "
            "the pack would read it as advisory",
            id="invalid-level",
        ),
    ],
)
def test_configure_refuses_entries_without_a_level(
    pack: PolicyPackProcess, config: dict[str, dict[str, Any]], message: str
) -> None:
    with pytest.raises(ValueError) as raised:
        pack.configure(config)
    assert str(raised.value) == message


# --- Analyze and AnalyzeStack through the subprocess ---------------------------------------------


@pytest.mark.parametrize(
    ("config_file", "resource", "expected"),
    [
        pytest.param(None, cm("labelled"), [], id="compliant"),
        pytest.param(None, cm("bare", team=None), [team_violation("bare")], id="mandatory-violation"),
        pytest.param(
            {TEAM: "advisory"}, cm("bare", team=None), [team_violation("bare", "advisory")], id="advisory-via-file"
        ),
        pytest.param({"all": "disabled"}, cm("bare", team=None), [], id="disabled"),
        pytest.param({TEAM: "remediate"}, cm("bare", team=None), [], id="remediated-before-analyze"),
        pytest.param(
            None,
            Resource("kubernetes:core/v1:ConfigMap", "pending", {"metadata": UNKNOWN}),
            [
                Violation(
                    TEAM,
                    TEAM_DESC,
                    "can't run policy 'require-team-label' from policy pack 'sample-pack@v0.0.1' during preview: "
                    "string value at .metadata can't be known during preview",
                    "advisory",
                    "urn:pulumi:stack::project::kubernetes:core/v1:ConfigMap::pending",
                    "sample-pack",
                )
            ],
            id="unknown-during-preview-is-advisory",
        ),
        pytest.param(
            None,
            Resource(
                "kubernetes:core/v1:Secret",
                "creds",
                {"metadata": {"name": "creds", "labels": {"app": "x"}}, "stringData": Secret({"pw": "hunter2"})},
                urn="urn:pulumi:stack::project::kubernetes:core/v1:Secret::creds",
            ),
            [
                Violation(
                    TEAM,
                    TEAM_DESC,
                    f"{TEAM_DESC}\ncreds has no 'team' label",
                    "mandatory",
                    "urn:pulumi:stack::project::kubernetes:core/v1:Secret::creds",
                    "sample-pack",
                )
            ],
            id="secret-values-travel",
        ),
    ],
)
def test_analyze(
    pack: PolicyPackProcess, config_file: dict[str, Any] | None, resource: Resource, expected: list[Violation]
) -> None:
    pack.configure(reconcile_config(pack.info, config_file))
    assert pack.analyze(resource) == expected


def test_remediate_returns_the_remediated_resource(pack: PolicyPackProcess) -> None:
    pack.configure(reconcile_config(pack.info, {TEAM: "remediate"}))
    bare = cm("bare", team=None)
    remediated, violations = pack.remediate(bare)
    expected_props = manifest("bare", team=None)
    expected_props["metadata"]["labels"]["team"] = "unowned"
    assert (remediated, violations) == (Resource(bare.type, bare.name, expected_props, bare.urn), [])


@pytest.mark.parametrize(
    ("config_file", "resources", "expected"),
    [
        pytest.param(None, [cm("a"), cm("b"), cm("c")], [], id="compliant"),
        pytest.param(
            None,
            [cm("a"), cm("b"), cm("c"), cm("d")],
            [size_violation("4 resources exceed the limit of 3.0")],
            id="too-many-attributed-to-root-stack",
        ),
        pytest.param(
            None,
            [cm("a"), cm("dns", "kube-system")],
            [size_violation("namespace kube-system is forbidden", cm_urn("dns", "kube-system"))],
            id="forbidden-namespace-attributed-to-resource",
        ),
        pytest.param(
            {SIZE: {"enforcementLevel": "mandatory", "maxResources": 1, "forbiddenNamespaces": ["apps"]}},
            [cm("a"), cm("b")],
            [
                size_violation("2 resources exceed the limit of 1.0", level="mandatory"),
                size_violation("namespace apps is forbidden", cm_urn("a"), "mandatory"),
                size_violation("namespace apps is forbidden", cm_urn("b"), "mandatory"),
            ],
            id="file-config",
        ),
        pytest.param(
            {SIZE: "remediate"},
            [cm("a"), cm("b"), cm("c"), cm("d")],
            [size_violation("4 resources exceed the limit of 3.0", level="mandatory")],
            id="remediate-reads-as-mandatory-for-stack-policies",
        ),
        pytest.param({"all": "disabled"}, [cm("a"), cm("b"), cm("c"), cm("d")], [], id="disabled"),
    ],
)
def test_analyze_stack(
    pack: PolicyPackProcess,
    config_file: dict[str, Any] | None,
    resources: list[Resource],
    expected: list[Violation],
) -> None:
    pack.configure(reconcile_config(pack.info, config_file))
    assert pack.analyze_stack(resources) == expected


def _pending(name: str) -> Resource:
    return Resource("kubernetes:core/v1:ConfigMap", name, {"metadata": UNKNOWN})


@pytest.mark.parametrize("window", [1, 2, 3, 64])
@pytest.mark.parametrize(
    "config_file", [None, {TEAM: "remediate"}, {TEAM: "advisory"}], ids=["default", "remediate", "advisory"]
)
def test_analyze_each_is_analyze_in_turn_pipelined(
    pack: PolicyPackProcess, config_file: dict[str, Any] | None, window: int
) -> None:
    # Issue 17: the per-resource calls overlap, the answers do not change, nor their order.
    pack.configure(reconcile_config(pack.info, config_file))
    resources = [cm(f"r{i}", team=None if i % 3 else "web") for i in range(10)] + [_pending("p"), cm("last")]
    in_turn = []
    for resource in resources:
        remediated, _ = pack.remediate(resource)
        in_turn.append((remediated, pack.analyze(resource)))
    assert list(pack.analyze_each(resources, window=window)) == in_turn
    assert len({tuple(v) for _, v in in_turn}) > 1  # the resources are judged differently: order matters


OVERLAP_PACK = """
    import threading
    from pulumi_policy import EnforcementLevel, PolicyPack, ResourceValidationPolicy

    in_flight, peak, changed = 0, 0, threading.Condition()

    def overlap(args, report_violation):
        # Each call waits (at most 5 s) until two calls have been in the pack at once.
        global in_flight, peak
        with changed:
            in_flight += 1
            peak = max(peak, in_flight)
            changed.notify_all()
            changed.wait_for(lambda: peak >= 2, timeout=5)
            in_flight -= 1
            report_violation("overlapped" if peak >= 2 else "alone")

    PolicyPack(name="overlap", policies=[ResourceValidationPolicy(
        name="overlap", description="d", validate=overlap, enforcement_level=EnforcementLevel.ADVISORY)])
"""


def test_analyze_each_has_calls_in_flight_together(tmp_path: Path) -> None:
    # Not a timing: the pack itself sees two Analyze calls at once, which in-turn calls never are.
    with PolicyPackProcess(write_pack(tmp_path / "overlap", OVERLAP_PACK)) as process:
        found = [v for _, vs in process.analyze_each([cm(f"r{i}") for i in range(8)]) for v in vs]
    assert [v.message for v in found] == ["d\noverlapped"] * 8


def test_analyze_each_names_what_it_found_in_order(pack: PolicyPackProcess) -> None:
    pack.configure(reconcile_config(pack.info, None))
    found = [v for _, vs in pack.analyze_each([cm("a", team=None), cm("b"), cm("c", team=None)], window=2) for v in vs]
    assert found == [team_violation("a"), team_violation("c")]


def test_analyze_each_stops_at_a_bad_resource_and_leaves_the_pack_usable(pack: PolicyPackProcess) -> None:
    pack.configure(reconcile_config(pack.info, None))
    resources = [cm(f"r{i}") for i in range(5)] + [Resource("t:m:R", "r", {"data": {"s": {1}}})] + [cm("after")]
    with pytest.raises(TypeError) as raised:
        list(pack.analyze_each(resources, window=3))
    assert str(raised.value) == "data.s: cannot send a set to a policy pack"
    assert pack.analyze(cm("bare", team=None)) == [team_violation("bare")]


def test_analyze_each_needs_a_window(pack: PolicyPackProcess) -> None:
    with pytest.raises(ValueError) as raised:
        list(pack.analyze_each([cm("a")], window=0))
    assert str(raised.value) == "window must be at least 1, got 0"


def test_policy_error_surfaces_as_policy_pack_error(pack: PolicyPackProcess) -> None:
    # A level-only entry gives the stack policy no config, so its config["maxResources"] raises.
    pack.configure({SIZE: {"enforcementLevel": "advisory"}})
    with pytest.raises(PolicyPackError) as raised:
        pack.analyze_stack([cm("a")])
    # What follows the first line is the stderr tail, which depends on the tests run before.
    assert str(raised.value).startswith(
        f"policy pack {SAMPLE}: AnalyzeStack failed: UNKNOWN: Exception calling application: 'maxResources'\n"
    )


@pytest.mark.parametrize(
    ("props", "message"),
    [
        pytest.param({"data": {"blob": b"\x00"}}, "data.blob: cannot send a bytes to a policy pack", id="bytes"),
        pytest.param({"data": [{1: "x"}]}, "data[0]: property keys must be strings, got 1", id="int-key"),
        pytest.param({"data": {"s": {1, 2}}}, "data.s: cannot send a set to a policy pack", id="set"),
    ],
)
def test_unsupported_property_values(pack: PolicyPackProcess, props: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError) as raised:
        pack.analyze(Resource("t:m:R", "r", props))
    assert str(raised.value) == message


def test_run_pack_is_the_whole_cli_sequence() -> None:
    resources = [cm("ok"), cm("bare", team=None), cm("dns", "kube-system", team=None), cm("d")]
    violations = run_pack(SAMPLE, resources, {"all": "mandatory", SIZE: {"maxResources": 2}})
    assert violations == [
        team_violation("bare"),
        team_violation("dns", namespace="kube-system"),
        size_violation("4 resources exceed the limit of 2.0", level="mandatory"),
        size_violation("namespace kube-system is forbidden", cm_urn("dns", "kube-system"), "mandatory"),
    ]


# --- process life cycle --------------------------------------------------------------------------


def test_logs_stream_and_engine_service_and_clean_shutdown() -> None:
    threads_before = set(threading.enumerate())
    with PolicyPackProcess(SAMPLE) as process:
        process.configure(reconcile_config(process.info, None))
        process.analyze_stack([cm("a"), cm("b")])
        # Packs in other languages log through the Engine service; Python ones print to stderr.
        with grpc.insecure_channel(process.engine_address) as channel:
            engine = engine_pb2_grpc.EngineStub(channel)
            engine.Log(engine_pb2.LogRequest(severity=engine_pb2.WARNING, message="via the engine"))
            engine.SetRootResource(engine_pb2.SetRootResourceRequest(urn=ROOT))
            root = engine.GetRootResource(engine_pb2.GetRootResourceRequest()).urn
        proc = process._process  # private: only to prove the child was reaped
    assert root == ROOT
    assert sorted(process.logs) == ["info: max-resources: 2 resources, limit 3.0", "warning: via the engine"]
    assert proc is not None and proc.returncode is not None
    assert set(threading.enumerate()) == threads_before


def test_started_like_the_cli(tmp_path: Path) -> None:
    # The pack sees the stack settings through the environment and runs in its own directory.
    directory = write_pack(
        tmp_path / "env-pack",
        """
        import os
        import pulumi
        from pulumi_policy import PolicyPack, ResourceValidationPolicy

        def report(args, report_violation):
            config = pulumi.Config("app")
            report_violation(
                f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()} "
                f"dry_run={pulumi.runtime.is_dry_run()} mode={config.get('mode')} cwd={os.path.basename(os.getcwd())}"
            )

        PolicyPack("env-pack", [ResourceValidationPolicy("report", "Reports its settings.", validate=report)])
        """,
    )
    with PolicyPackProcess(
        directory, project="proj", stack="dev", organization="acme", dry_run=False, config={"app:mode": "strict"}
    ) as process:
        violations = process.analyze(Resource("t:m:R", "r", {}))
    assert violations == [
        Violation(
            "report",
            "Reports its settings.",
            "Reports its settings.\nacme/proj/dev dry_run=False mode=strict cwd=env-pack",
            "advisory",
            "urn:pulumi:dev::proj::t:m:R::r",
            "env-pack",
        )
    ]


@pytest.mark.parametrize(
    ("main", "runtime", "timeout", "reason", "stderr_line"),
    [
        pytest.param(
            None, "python", 30.0, "exited with code 1 before writing its port", "can't find '__main__' module",
            id="no-main",
        ),
        pytest.param(
            "raise RuntimeError('boom at import')\n", "python", 30.0,
            "exited with code 1 before writing its port", "RuntimeError: boom at import",
            id="crash",
        ),
        pytest.param(
            "print('hello')\nimport time\ntime.sleep(30)\n", "python", 30.0,
            "wrote an invalid port to stdout: 'hello'", "(stderr was empty)",
            id="not-a-port",
        ),
        pytest.param(
            # 8 s, not 1: the pack's interpreter imports pulumi before this line runs, which takes
            # seconds on a loaded machine, and the test is about the timeout, not its length.
            "import sys, time\nprint('waiting for godot', file=sys.stderr)\ntime.sleep(30)\n", "python", 8.0,
            "no port on stdout within 8s", "waiting for godot",
            id="timeout",
        ),
    ],
)  # fmt: skip
def test_start_failures(
    tmp_path: Path, main: str | None, runtime: str, timeout: float, reason: str, stderr_line: str
) -> None:
    directory = write_pack(tmp_path / "broken", main, runtime)
    process = PolicyPackProcess(directory, startup_timeout=timeout)
    with pytest.raises(PolicyPackError) as raised, process:
        pass
    message = str(raised.value)
    assert message.startswith(f"policy pack {directory} failed to start: {reason}\n")
    assert stderr_line in message
    assert process._process is not None and process._process.returncode is not None  # killed and reaped


@pytest.mark.parametrize(
    ("make", "kw", "message"),
    [
        pytest.param(
            lambda tmp: tmp / "missing",
            {},
            "failed to load Pulumi policy project located at '{dir}': [Errno 2] No such file or directory: "
            "'{dir}/PulumiPolicy.yaml'",
            id="missing-dir",
        ),
        pytest.param(
            lambda tmp: write_pack(tmp / "node", "", runtime="nodejs"),
            {},
            "{dir}/PulumiPolicy.yaml: runtime is 'nodejs'; only Python policy packs are supported",
            id="not-python",
        ),
        pytest.param(
            lambda tmp: write_pack(tmp / "pack", ""),
            {"python": "/nonexistent/python3"},
            "policy pack {dir} failed to start: [Errno 2] No such file or directory: '/nonexistent/python3'",
            id="no-interpreter",
        ),
    ],
)
def test_errors_before_the_pack_runs(tmp_path: Path, make: Any, kw: dict[str, Any], message: str) -> None:
    threads_before = set(threading.enumerate())
    directory = make(tmp_path)
    with pytest.raises(PolicyPackError) as raised, PolicyPackProcess(directory, **kw):
        pass
    assert str(raised.value) == message.format(dir=directory)
    assert set(threading.enumerate()) == threads_before  # the engine service was stopped too


# --- Resource.from_manifest ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "kw", "type_", "name", "urn"),
    [
        pytest.param(
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "apps"}},
            {},
            "kubernetes:core/v1:Service",
            "apps/web",
            "urn:pulumi:stack::project::kubernetes:core/v1:Service::apps/web",
            id="core-group",
        ),
        pytest.param(
            {
                "apiVersion": "networking.istio.io/v1",
                "kind": "Gateway",
                "metadata": {"name": "egress", "namespace": "istio-system"},
            },
            {"project": "mesh", "stack": "prod"},
            "kubernetes:networking.istio.io/v1:Gateway",
            "istio-system/egress",
            "urn:pulumi:prod::mesh::kubernetes:networking.istio.io/v1:Gateway::istio-system/egress",
            id="named-group",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "apps"}},
            {},
            "kubernetes:core/v1:Namespace",
            "apps",
            "urn:pulumi:stack::project::kubernetes:core/v1:Namespace::apps",
            id="cluster-scoped",
        ),
    ],
)
def test_from_manifest(obj: dict[str, Any], kw: dict[str, str], type_: str, name: str, urn: str) -> None:
    resource = Resource.from_manifest(obj, **kw)
    assert resource == Resource(type_, name, obj, urn)
    assert resource.props is not obj  # a copy: the caller may keep mutating its manifest


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        pytest.param(
            {"kind": "Service", "metadata": {"name": "x"}},
            "manifest needs a string apiVersion and kind, got None/'Service'",
            id="no-api-version",
        ),
        pytest.param(
            {"apiVersion": "v1", "metadata": {"name": "x"}},
            "manifest needs a string apiVersion and kind, got 'v1'/None",
            id="no-kind",
        ),
        pytest.param(
            {"apiVersion": "v1", "kind": "Service", "metadata": {}},
            "Service manifest has no metadata.name",
            id="no-name",
        ),
    ],
)
def test_from_manifest_errors(obj: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as raised:
        Resource.from_manifest(obj)
    assert str(raised.value) == message
