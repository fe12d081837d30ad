"""The offline renderer: Pulumi programs under Pulumi's mock engine, turned into kubectl-ready YAML."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from pulumi_istio_egress.cli import main as cli
from pulumi_istio_egress.cli.output_dir import INDEX
from pulumi_istio_egress.cli.render import RenderError, object_file_name, render_program, to_yaml

PROGRAMS = Path(__file__).parent / "fixtures" / "programs"
REPO = Path(__file__).parent.parent


def rendered_text(program: Path | str, **kwargs: Any) -> str:
    # Goldens hold the values the program declared, secrets included.
    return to_yaml((o.manifest for o in render_program(program, **kwargs)), show_secrets=True)


def write_program(
    root: Path,
    main: str,
    *,
    name: str = "tmp-program",
    runtime: str = "python",
    project_extra: str = "",
    stacks: dict[str, str] | None = None,
) -> Path:
    """A throwaway Pulumi project: Pulumi.yaml, __main__.py and Pulumi.<stack>.yaml files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text(f"name: {name}\nruntime: {runtime}\n{textwrap.dedent(project_extra)}")
    (root / "__main__.py").write_text(textwrap.dedent(main))
    for stack, text in (stacks or {}).items():
        (root / f"Pulumi.{stack}.yaml").write_text(textwrap.dedent(text))
    return root


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------------------------------------
# Golden files


GOLDEN = [
    ("egress", None, "expected.yaml"),
    ("egress", "prod", "expected.prod.yaml"),
    ("kubernetes-types", None, "expected.yaml"),
]


@pytest.mark.parametrize(("program", "stack", "golden"), GOLDEN)
def test_render_matches_golden(program: str, stack: str | None, golden: str) -> None:
    text = rendered_text(PROGRAMS / program, stack=stack)
    path = PROGRAMS / program / golden
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    assert path.is_file(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it"
    assert text == path.read_bytes().decode("utf-8")


def test_rendered_objects_carry_their_pulumi_resources() -> None:
    stack_urn = "urn:pulumi:dev::egress-demo::pulumi:pulumi:Stack::egress-demo-dev"
    bundle_urn = "urn:pulumi:dev::egress-demo::demo:index:EgressBundle::external-api"

    def child(kind: str, group: str, name: str) -> tuple[str, str, str, str]:
        token = f"kubernetes:{group}:{kind}"
        return (token, name, f"urn:pulumi:dev::egress-demo::demo:index:EgressBundle${token}::{name}", bundle_urn)

    objects = render_program(PROGRAMS / "egress")

    assert [(o.pulumi_type, o.pulumi_name, o.urn, o.parent_urn) for o in objects] == [
        (
            "kubernetes:v1:Namespace",
            "egress-namespace",
            "urn:pulumi:dev::egress-demo::kubernetes:v1:Namespace::egress-namespace",
            stack_urn,
        ),
        (
            "kubernetes:core/v1:ConfigMap",
            "egress-settings",
            "urn:pulumi:dev::egress-demo::kubernetes:core/v1:ConfigMap::egress-settings",
            stack_urn,
        ),
        child("ServiceEntry", "networking.istio.io/v1", "external-api-se"),
        child("Gateway", "networking.istio.io/v1", "external-api-gw"),
        child("DestinationRule", "networking.istio.io/v1", "external-api-dr"),
        child("VirtualService", "networking.istio.io/v1", "external-api-vs"),
        child("AuthorizationPolicy", "security.istio.io/v1", "external-api-authz"),
    ]


def test_manifests_are_plain_data() -> None:
    objects = render_program(PROGRAMS / "egress")
    service_entry = next(o.manifest for o in objects if o.manifest["kind"] == "ServiceEntry")

    assert service_entry == {
        "apiVersion": "networking.istio.io/v1",
        "kind": "ServiceEntry",
        "metadata": {
            "labels": {"app": "external-api", "fixture": "egress"},
            "name": "external-api",
            "namespace": "istio-egress",
        },
        "spec": {
            "exportTo": ["."],
            "hosts": ["api.example.com", "*.storage.example.com"],
            "location": "MESH_EXTERNAL",
            "ports": [{"name": "tls", "number": 443, "protocol": "TLS"}],
            "resolution": "DNS",
        },
    }
    assert type(service_entry["spec"]["ports"][0]["number"]) is int


# ---------------------------------------------------------------------------------------------
# Determinism and isolation


def test_same_bytes_for_repeated_renders_in_one_process() -> None:
    # Both fixtures have a `helpers.py`; the second program must not get the first one's module.
    first = rendered_text(PROGRAMS / "egress")
    other = rendered_text(PROGRAMS / "kubernetes-types")
    again = rendered_text(PROGRAMS / "egress")

    assert first == again
    assert "fixture: egress\n" in first
    assert "fixture: kubernetes-types\n" in other
    assert "fixture: egress\n" not in other


def test_same_bytes_across_processes_with_different_hash_seeds() -> None:
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run(
            [sys.executable, "-m", "pulumi_istio_egress", "render", str(PROGRAMS / "egress")],
            env=env,
            cwd=REPO,
            capture_output=True,
            check=False,
        )
        assert (result.returncode, result.stderr) == (0, b"")
        outputs.append(result.stdout)

    assert outputs[0] == outputs[1] == (PROGRAMS / "egress" / "expected.yaml").read_bytes()


def test_process_state_is_restored_after_success_and_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Config comes from the stack files only, not from what a surrounding `pulumi` run exports.
    monkeypatch.setenv("PULUMI_CONFIG", '{"tmp-program:extra": "from-the-environment"}')
    monkeypatch.setenv("PULUMI_CONFIG_EXTRA", "from-the-environment")
    program = write_program(
        tmp_path,
        """
        import pulumi
        from pulumi_kubernetes.apiextensions import CustomResource
        extra = pulumi.Config().get("extra") or "unset"
        CustomResource("cm", api_version="v1", kind="ConfigMap", metadata={"name": extra})
        """,
    )
    before = (os.getcwd(), list(sys.path), list(sys.argv), dict(os.environ))

    names = [o.manifest["metadata"]["name"] for o in render_program(program)]
    with pytest.raises(RenderError):
        render_program(PROGRAMS / "raises")

    assert names == ["unset"]
    assert (os.getcwd(), list(sys.path), list(sys.argv), dict(os.environ)) == before
    leftovers = [m for m in sys.modules if str(PROGRAMS) in (getattr(sys.modules[m], "__file__", None) or "")]
    assert leftovers == []
    assert "helpers" not in sys.modules


def test_callers_pulumi_settings_are_untouched() -> None:
    before = (pulumi.get_project(), pulumi.get_stack(), pulumi.runtime.get_root_resource())

    render_program(PROGRAMS / "egress")

    assert (pulumi.get_project(), pulumi.get_stack(), pulumi.runtime.get_root_resource()) == before


def test_progress_counts_kubernetes_objects() -> None:
    seen: list[int] = []

    objects = render_program(PROGRAMS / "egress", progress=seen.append)

    assert seen == list(range(1, len(objects) + 1))
    assert len(objects) == 7


# ---------------------------------------------------------------------------------------------
# Stack configuration


CONFIG_ECHO = """
import pulumi
from pulumi_kubernetes.core.v1 import ConfigMap

keys = ["plain", "declared", "wrapped", "overridden", "number", "flag", "on", "date", "items", "nested"]
data = {k: pulumi.Config().get(k) or "<unset>" for k in keys}
data["other-namespace"] = pulumi.Config("app").get("region") or "<unset>"
data["stack"] = pulumi.get_stack()
ConfigMap("echo", metadata={"name": "echo"}, data=data)
"""

CONFIG_ECHO_PROJECT = """
config:
  plain: from-project
  declared:
    type: string
    default: declared-default
  wrapped:
    value:
      b: 2
      a: 1
  overridden: project
  typed-without-default:
    type: string
"""

CONFIG_ECHO_DEV = """
config:
  echo:overridden: stack
  number: 443
  flag: true
  on: yes
  date: 2024-01-01
  items: [b, a]
  nested: {z: 1, a: {on: off}}
  app:region: eu-west-1
"""


@pytest.mark.parametrize(
    ("stack", "config_file", "expected"),
    [
        (
            None,
            None,
            {
                "plain": "from-project",
                "declared": "declared-default",
                "wrapped": '{"a":1,"b":2}',
                "overridden": "stack",
                "number": "443",
                "flag": "true",
                "on": "yes",
                "date": "2024-01-01",
                "items": '["b","a"]',
                "nested": '{"a":{"on":"off"},"z":1}',
                "other-namespace": "eu-west-1",
                "stack": "dev",
            },
        ),
        (
            None,
            "Pulumi.ci.yaml",
            {
                "plain": "from-project",
                "declared": "declared-default",
                "wrapped": '{"a":1,"b":2}',
                "overridden": "ci",
                "number": "<unset>",
                "flag": "false",
                "on": "<unset>",
                "date": "<unset>",
                "items": "<unset>",
                "nested": "<unset>",
                "other-namespace": "<unset>",
                "stack": "ci",
            },
        ),
        (
            "qa",
            "alt.yaml",
            {
                "plain": "alt",
                "declared": "declared-default",
                "wrapped": '{"a":1,"b":2}',
                "overridden": "project",
                "number": "1.5",
                "flag": "<unset>",
                "on": "<unset>",
                "date": "<unset>",
                "items": "<unset>",
                "nested": "<unset>",
                "other-namespace": "<unset>",
                "stack": "qa",
            },
        ),
    ],
)
def test_config_reaches_the_program_as_the_cli_would_pass_it(
    tmp_path: Path, stack: str | None, config_file: str | None, expected: dict[str, str]
) -> None:
    program = write_program(
        tmp_path / "echo", CONFIG_ECHO, name="echo", project_extra=CONFIG_ECHO_PROJECT, stacks={"dev": CONFIG_ECHO_DEV}
    )
    (tmp_path / "Pulumi.ci.yaml").write_text("config:\n  echo:overridden: ci\n  echo:flag: false\n")
    (tmp_path / "alt.yaml").write_text("config:\n  plain: alt\n  number: 1.5\n  flag:\n")

    objects = render_program(program, stack=stack, config_file=str(tmp_path / config_file) if config_file else None)

    assert [o.manifest["data"] for o in objects] == [expected]


@pytest.mark.parametrize(
    ("stacks", "stack", "expected_stack"),
    [
        ({"staging": ""}, None, "staging"),
        ({"dev": "", "prod": ""}, None, "dev"),
        ({}, None, "dev"),
        ({"dev": "", "prod": ""}, "my-org/tmp-program/prod", "prod"),
    ],
)
def test_stack_selection(tmp_path: Path, stacks: dict[str, str], stack: str | None, expected_stack: str) -> None:
    program = write_program(
        tmp_path,
        """
        import pulumi
        from pulumi_kubernetes.apiextensions import CustomResource
        CustomResource("cm", api_version="v1", kind="ConfigMap", metadata={"name": pulumi.get_stack()})
        """,
        stacks=stacks,
    )

    objects = render_program(program, stack=stack)

    assert [(o.manifest["metadata"]["name"], o.urn) for o in objects] == [
        (expected_stack, f"urn:pulumi:{expected_stack}::tmp-program::kubernetes:v1:ConfigMap::cm")
    ]


def test_namespaces_come_from_the_provider_then_config_then_default(tmp_path: Path) -> None:
    program = write_program(
        tmp_path,
        """
        import pulumi
        import pulumi_kubernetes as k8s
        from pulumi_kubernetes.apiextensions import CustomResource
        team = k8s.Provider("team", namespace="team-ns")
        def cm(name, **kwargs):
            CustomResource(name, api_version="v1", kind="ConfigMap", metadata={"name": name}, **kwargs)
        cm("via-provider", opts=pulumi.ResourceOptions(provider=team))
        cm("via-config")
        CustomResource("crd", api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition",
                       metadata={"name": "things.example.com"}, spec={})
        """,
        stacks={"dev": "config:\n  kubernetes:namespace: config-ns\n"},
    )

    objects = render_program(program)

    assert [o.manifest["metadata"] for o in objects] == [
        {"name": "things.example.com"},
        {"name": "via-config", "namespace": "config-ns"},
        {"name": "via-provider", "namespace": "team-ns"},
    ]


def test_without_config_namespace_defaults_to_default(tmp_path: Path) -> None:
    program = write_program(
        tmp_path,
        """
        from pulumi_kubernetes.apiextensions import CustomResource
        CustomResource("cm", api_version="v1", kind="ConfigMap", metadata={"name": "cm"})
        """,
    )

    assert [o.manifest["metadata"] for o in render_program(program)] == [{"name": "cm", "namespace": "default"}]


# ---------------------------------------------------------------------------------------------
# YAML output


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("on", "v: 'on'"),
        ("off", "v: 'off'"),
        ("yes", "v: 'yes'"),
        ("y", "v: 'y'"),
        ("N", "v: 'N'"),
        ("true", "v: 'true'"),
        ("null", "v: 'null'"),
        ("~", "v: '~'"),
        ("", "v: ''"),
        ("443", "v: '443'"),
        ("08", "v: '08'"),
        ("0755", "v: '0755'"),
        ("0o17", "v: '0o17'"),
        ("0x1F", "v: '0x1F'"),
        ("1e3", "v: '1e3'"),
        ("1.5", "v: '1.5'"),
        (".5", "v: '.5'"),
        ("1_000", "v: '1_000'"),
        ("2024-01-01", "v: '2024-01-01'"),
        ("*.example.com", "v: '*.example.com'"),
        ("&anchor", "v: '&anchor'"),
        ("!tag", "v: '!tag'"),
        ("- item", "v: '- item'"),
        ("a: b", "v: 'a: b'"),
        ("#comment", "v: '#comment'"),
        ("api.example.com", "v: api.example.com"),
        ("nginx:1.27", "v: nginx:1.27"),
        ("café", "v: café"),
        (443, "v: 443"),
        (0.5, "v: 0.5"),
        (True, "v: true"),
    ],
)
def test_yaml_scalars_read_back_as_written(value: Any, line: str) -> None:
    text = to_yaml([{"v": value}])

    assert text == line + "\n"
    assert yaml.safe_load(text) == {"v": value}


def test_yaml_document_layout() -> None:
    manifest = {
        "zeta": 1,
        "data": {"b": "2", "a": "1"},
        "spec": {"servers": [{"port": {"number": 443, "name": "tls"}, "hosts": ["*"]}]},
        "metadata": {"namespace": "ns", "name": "web", "labels": {"b": "x", "a": "y"}},
        "kind": "Thing",
        "apiVersion": "example.com/v1",
    }
    shared = {"k": "v"}

    text = to_yaml([manifest, {"apiVersion": "v1", "kind": "List", "items": [shared, shared]}])

    assert text == textwrap.dedent(
        """\
        apiVersion: example.com/v1
        kind: Thing
        metadata:
          labels:
            a: 'y'
            b: x
          name: web
          namespace: ns
        spec:
          servers:
          - hosts:
            - '*'
            port:
              name: tls
              number: 443
        data:
          a: '1'
          b: '2'
        zeta: 1
        ---
        apiVersion: v1
        kind: List
        items:
        - k: v
        - k: v
        """
    )


def test_yaml_multiline_and_long_strings() -> None:
    long = "x" * 300

    text = to_yaml([{"script": "line 1\nline 2\n", "long": long}])

    assert text == f"long: {long}\nscript: |\n  line 1\n  line 2\n"


def test_yaml_of_nothing_is_empty() -> None:
    assert to_yaml([]) == ""


@pytest.mark.parametrize(
    ("manifest", "name"),
    [
        (
            {"kind": "ServiceEntry", "metadata": {"name": "api", "namespace": "istio-egress"}},
            "istio-egress.serviceentry.api.yaml",
        ),
        ({"kind": "Namespace", "metadata": {"name": "istio-egress"}}, "_cluster.namespace.istio-egress.yaml"),
        ({"kind": "Gateway", "metadata": {"name": "a/b c*", "namespace": "ns"}}, "ns.gateway.a_b_c_.yaml"),
        ({"kind": "ConfigMap", "metadata": {"name": "../../etc"}}, "_cluster.configmap..._.._etc.yaml"),
        ({}, "_cluster._._.yaml"),
    ],
)
def test_object_file_name(manifest: dict[str, Any], name: str) -> None:
    assert object_file_name(manifest) == name


# ---------------------------------------------------------------------------------------------
# Command line


def test_cli_render_writes_yaml_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["render", str(PROGRAMS / "egress"), "--stack", "prod"], capsys) == (
        0,
        (PROGRAMS / "egress" / "expected.prod.yaml").read_text(encoding="utf-8"),
        "",
    )


def test_cli_render_defaults_to_the_current_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROGRAMS / "kubernetes-types")

    assert run_cli(["render", "--show-secrets"], capsys) == (
        0,
        (PROGRAMS / "kubernetes-types" / "expected.yaml").read_text(encoding="utf-8"),
        "",
    )


def test_cli_render_out_writes_one_file_per_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out" / "manifests"

    code, stdout, stderr = run_cli(["render", str(PROGRAMS / "egress"), "--out", str(out)], capsys)

    names = [
        "_cluster.namespace.istio-egress.yaml",
        "default.configmap.egress-settings.yaml",
        "istio-egress.serviceentry.external-api.yaml",
        "istio-egress.gateway.egress.yaml",
        "istio-egress.destinationrule.egress-gateway.yaml",
        "istio-egress.virtualservice.external-api.yaml",
        "istio-egress.authorizationpolicy.egress-allow.yaml",
    ]
    assert (code, stdout, stderr) == (0, "", "".join(f"{out / n}\n" for n in names))
    assert sorted(p.name for p in out.iterdir()) == sorted([*names, INDEX])
    assert (out / INDEX).read_text(encoding="utf-8") == "".join(f"{n}\n" for n in sorted(names))
    assert "---\n".join((out / n).read_text(encoding="utf-8") for n in names) == (
        PROGRAMS / "egress" / "expected.yaml"
    ).read_text(encoding="utf-8")


def test_cli_program_output_goes_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    program = write_program(
        tmp_path,
        """
        from pulumi_kubernetes.apiextensions import CustomResource
        print("debugging the program")
        CustomResource("cm", api_version="v1", kind="ConfigMap", metadata={"name": "cm", "namespace": "ns"})
        """,
    )

    # The program runs in a child process whose stdout is the parent's stderr (fd 2).
    assert run_cli(["render", str(program)], capfd) == (
        0,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns\n",
        "debugging the program\n",
    )


def _program(main: str, **kwargs: Any) -> Callable[[Path], str]:
    def make(tmp_path: Path) -> str:
        return str(write_program(tmp_path / "program", main, **kwargs))

    return make


def _fixture(name: str) -> Callable[[Path], str]:
    return lambda _tmp_path: str(PROGRAMS / name)


def _no_project(tmp_path: Path) -> str:
    (tmp_path / "empty").mkdir()
    return str(tmp_path / "empty")


def _bad_yaml(tmp_path: Path) -> str:
    write_program(tmp_path / "program", "")
    (tmp_path / "program" / "Pulumi.dev.yaml").write_text("config:\n  a: [1, 2\n")
    return str(tmp_path / "program")


CM = "from pulumi_kubernetes.apiextensions import CustomResource\nimport pulumi\nimport sys\n"

ERRORS: list[tuple[str, Callable[[Path], str], list[str], str]] = [
    ("missing directory", lambda tmp: str(tmp / "nowhere"), [], "program directory not found: {dir}"),
    ("no Pulumi.yaml", _no_project, [], "no Pulumi.yaml in {dir}: not a Pulumi project"),
    (
        "not python",
        _program("", runtime="nodejs"),
        [],
        "{dir}/Pulumi.yaml: runtime is 'nodejs'; only Python programs can be rendered",
    ),
    ("program raises", _fixture("raises"), [], "program raised ValueError: no labels for 'x' (at helpers.py:5)"),
    (
        "bad config",
        _fixture("bad-config"),
        [],
        "program raised ConfigTypeError: Configuration 'bad-config:replicas' value 'many' is not a valid 'int' "
        "(at __main__.py:6)",
    ),
    (
        "missing required config",
        _program(CM + "pulumi.Config().require('host')\n", name="needs"),
        [],
        "program raised ConfigMissingError: Missing required configuration variable 'needs:host' "
        "please set a value using the command `pulumi config set needs:host <value>` (at __main__.py:4)",
    ),
    (
        "secure config",
        _fixture("secret-config"),
        [],
        "{dir}/Pulumi.dev.yaml: config key 'secret-config:apiToken' is a secret (secure:), which cannot be "
        "decrypted offline; put a plain value in a file passed with --config-file",
    ),
    (
        "missing stack file",
        _fixture("egress"),
        ["--stack", "staging"],
        "no stack config file Pulumi.staging.yaml in {dir} (stacks there: dev, prod)",
    ),
    (
        "missing config file",
        _fixture("egress"),
        ["--config-file", "nowhere.yaml"],
        "config file not found: nowhere.yaml",
    ),
    (
        "several stacks, none dev",
        _program("", stacks={"prod": "", "staging": ""}),
        [],
        "several stacks in {dir} (prod, staging); choose one with --stack",
    ),
    (
        "bad YAML",
        _bad_yaml,
        [],
        "{dir}/Pulumi.dev.yaml: invalid YAML: expected ',' or ']', but got '<stream end>' (line 3, column 1)",
    ),
    ("program exits", _program(CM + "sys.exit(3)\n"), [], "program exited with status 3"),
    ("syntax error", _program("x = = 1\n"), [], "program raised SyntaxError: invalid syntax (at __main__.py:1)"),
    (
        "same object twice",
        _program(
            CM
            + "CustomResource('a', api_version='v1', kind='ConfigMap', metadata={'name': 'cm'})\n"
            + "CustomResource('b', api_version='v1', kind='ConfigMap', metadata={'name': 'cm'})\n"
        ),
        [],
        "resources 'a' and 'b' both declare ConfigMap default/cm",
    ),
    (
        "same URN twice",
        _program(
            CM
            + "CustomResource('a', api_version='v1', kind='ConfigMap', metadata={'name': 'one'})\n"
            + "CustomResource('a', api_version='v1', kind='ConfigMap', metadata={'name': 'two'})\n"
        ),
        [],
        "duplicate resource URN urn:pulumi:dev::tmp-program::kubernetes:v1:ConfigMap::a: "
        "give one of the resources another name",
    ),
    # An object without metadata.name is autonamed (tests/test_render_programs.py), as the provider does.
    (
        "provider-side component",
        _program("from pulumi_kubernetes.helm.v4 import Chart\nChart('istio-base', chart='base')\n"),
        [],
        "resource 'istio-base' is a kubernetes:helm.sh/v4:Chart, a provider-side component whose objects the "
        "offline renderer cannot expand",
    ),
    (
        "provider function",
        _program(CM + "pulumi.runtime.invoke('kubernetes:helm:template', {})\n"),
        [],
        "the program calls provider function 'kubernetes:helm:template', which cannot run offline",
    ),
    (
        "transforms",
        _program(
            CM
            + "CustomResource('cm', api_version='v1', kind='ConfigMap', metadata={'name': 'cm'},\n"
            + "               opts=pulumi.ResourceOptions(transforms=[lambda args: None]))\n"
        ),
        [],
        "resource 'cm' (kubernetes:v1:ConfigMap) has transforms, which the offline renderer cannot run",
    ),
    ("unknown option", _fixture("egress"), ["--bogus"], "unrecognized arguments: --bogus"),
]


@pytest.mark.parametrize(("make", "extra", "message"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_cli_errors_are_one_line_with_exit_code_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], str],
    extra: list[str],
    message: str,
) -> None:
    program_dir = make(tmp_path)

    assert run_cli(["render", program_dir, *extra], capsys) == (2, "", f"error: {message.format(dir=program_dir)}\n")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_shows_progress_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    code = cli.main(["render", str(PROGRAMS / "egress")])
    monkeypatch.undo()

    assert code == 0
    assert terminal.getvalue() == "".join(f"\rrendered {n} objects..." for n in range(1, 8)) + "\r\x1b[K"
    assert run_cli(["render", str(PROGRAMS / "egress")], capsys)[2] == ""


def test_cli_without_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli([], capsys) == (2, "", "error: the following arguments are required: COMMAND\n")


def test_cli_out_directory_that_cannot_be_created(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    assert run_cli(["render", str(PROGRAMS / "egress"), "--out", str(blocker / "out")], capsys) == (
        2,
        "",
        f"error: cannot write {blocker / 'out'}: Not a directory\n",
    )


def test_installed_console_script_and_module_agree() -> None:
    script = Path(sys.executable).parent / "pulumi-istio-egress"
    if not script.exists():
        pytest.skip("package not installed (pip install -e .)")
    args = ["render", str(PROGRAMS / "egress"), "--stack", "prod"]

    via_script = subprocess.run([str(script), *args], capture_output=True, check=False)
    via_module = subprocess.run([sys.executable, "-m", "pulumi_istio_egress", *args], capture_output=True, check=False)

    assert (via_script.returncode, via_script.stdout, via_script.stderr) == (0, via_module.stdout, b"")
    assert via_module.stdout == (PROGRAMS / "egress" / "expected.prod.yaml").read_bytes()
