"""What a new user meets first: typos of fields, stack-config errors in YAML terms, and misspelt
policy-pack config (unknown policies and options), each refused with a "did you mean"."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from mocking import Recording, run

from pulumi_istio_egress import EgressRoute, EgressRouteError
from pulumi_istio_egress.cli import main as cli
from pulumi_istio_egress.cli.pack_client import PolicyPackProcess, Resource
from pulumi_istio_egress.policy_config import config_typos
from pulumi_istio_egress.route import parse_route

ROOT = Path(__file__).parents[1]
FIXTURES = Path(__file__).parent / "fixtures"
BASE: dict[str, Any] = {"host": "api.stripe.com", "tls_mode": "SIMPLE", "client_namespaces": ["payments"]}
SNAKE = "(fields are snake_case here; camelCase is for the other SDKs)"

# (args, message): unknown keys come first, so a typo of a required field names the typo.
TYPOS: list[tuple[dict[str, Any], str]] = [
    ({"host": "api.stripe.com", "tls_mod": "SIMPLE", "client_namespaces": ["payments"]},
     "tls_mod='SIMPLE' is invalid: it is not a field of EgressRouteArgs. Fix: did you mean 'tls_mode'?"),
    ({"host": "api.stripe.com", "tls_mode": "SIMPLE", "client_namespace": ["payments"]},
     "client_namespace=['payments'] is invalid: it is not a field of EgressRouteArgs. "
     "Fix: did you mean 'client_namespaces'?"),
    ({"host": "api.stripe.com", "tlsMode": "SIMPLE", "client_namespaces": ["payments"]},
     f"tlsMode='SIMPLE' is invalid: it is not a field of EgressRouteArgs. Fix: did you mean 'tls_mode'? {SNAKE}"),
    ({"host": "api.stripe.com", "tls_mode": "SIMPLE", "clientNamespaces": ["payments"]},
     "clientNamespaces=['payments'] is invalid: it is not a field of EgressRouteArgs. "
     f"Fix: did you mean 'client_namespaces'? {SNAKE}"),
    ({**BASE, "gatewayNamespace": "egress"},
     f"gatewayNamespace='egress' is invalid: it is not a field of EgressRouteArgs. "
     f"Fix: did you mean 'gateway_namespace'? {SNAKE}"),
]


@pytest.mark.parametrize(("args", "message"), TYPOS, ids=[m.split("=")[0] for _, m in TYPOS])
def test_unknown_fields_are_reported_first_by_parse_route(args: dict[str, Any], message: str) -> None:
    with pytest.raises(EgressRouteError) as caught:
        parse_route(args)
    assert str(caught.value) == message


@pytest.mark.parametrize(("args", "message"), TYPOS, ids=[m.split("=")[0] for _, m in TYPOS])
def test_unknown_fields_are_reported_first_by_the_component(args: dict[str, Any], message: str) -> None:
    # The component checks the structural fields first (_keys); the typo must still win.
    recording = Recording()
    with pytest.raises(EgressRouteError) as caught:
        run(lambda: EgressRoute("stripe", args), recording=recording)  # type: ignore[arg-type]
    assert str(caught.value) == f"EgressRoute 'stripe': {message}"
    assert recording.resources == []


def _root_project(tmp_path: Path, routes: str, defaults: str = "{gateway_namespace: istio-system}") -> Path:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    shutil.copy(ROOT / "__main__.py", project / "__main__.py")
    (project / "Pulumi.dev.yaml").write_text(
        f"config:\n  istio-egress:defaults: {defaults}\n  istio-egress:routes:\n    {routes}\n"
    )
    return project


# Errors of the root project speak YAML: the config key, `field: value` as written, YAML fixes.
STACK_CONFIG_ERRORS = [
    ("stripe: {host: api.stripe.com, tls_mode: simple, client_namespaces: [payments]}",
     "{gateway_namespace: istio-system}",
     "istio-egress:routes.stripe: tls_mode: simple is invalid: it is not a known mode (modes are upper case: "
     "'SIMPLE'). Fix: use one of 'PASSTHROUGH', 'SIMPLE', 'MUTUAL'"),
    ("stripe: {host: api.stripe.com, client_namespaces: [payments]}",
     "{gateway_namespace: istio-system}",
     "istio-egress:routes.stripe: tls_mode is missing; it is required. Fix: add tls_mode: SIMPLE, PASSTHROUGH "
     "or MUTUAL"),
    ("stripe: {host: api.stripe.com, tlsMode: SIMPLE, clientNamespaces: [payments]}",
     "{gateway_namespace: istio-system}",
     # Pulumi hands config objects over with sorted keys: the first unknown key is clientNamespaces.
     'istio-egress:routes.stripe: clientNamespaces: ["payments"] is invalid: it is not a field of EgressRouteArgs. '
     f"Fix: did you mean 'client_namespaces'? {SNAKE}"),
    ("stripe: {host: api.stripe.com, tls_mode: SIMPLE, client_namespaces: [payments], authorization_policy: 'yes'}",
     "{gateway_namespace: istio-system}",
     'istio-egress:routes.stripe: authorization_policy: "yes" is invalid: it is not a boolean. '
     "Fix: write true or false"),
    ("stripe: {host: api.stripe.com, tls_mode: SIMPLE, client_namespaces: [payments]}",
     "{gateway_namespace: Istio-System}",
     "istio-egress:defaults: gateway_namespace: Istio-System is invalid: it must be lower-case letters, digits "
     "and '-', starting and ending with a letter or digit. Fix: give a namespace name such as 'istio-system'"),
]


@pytest.mark.parametrize(("routes", "defaults", "message"), STACK_CONFIG_ERRORS)
def test_root_project_errors_speak_yaml(tmp_path: Path, routes: str, defaults: str, message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    project = _root_project(tmp_path, routes, defaults)
    assert cli.main(["render", str(project)]) == 2
    err = capsys.readouterr().err
    line = next(n for n, text in enumerate((ROOT / "__main__.py").read_text().splitlines(), 1)
                if "raise pulumi.RunError(error.in_config" in text)
    assert err == f"error: program raised RunError: {message} (at __main__.py:{line})\n"
    assert "TlsMode." not in err


# -- policy-pack config ------------------------------------------------------------------------

SCHEMAS: dict[str, dict[str, Any] | None] = {
    "audited-hosts-require-simple": {"type": "object", "properties": {"auditedHosts": {"type": "array"}}},
    "allowed-hosts": {"type": "object", "properties": {"allowedHosts": {"type": "array"}}},
    "egress-via-gateway": None,
}

CONFIG_TYPOS: list[tuple[dict[str, Any], list[str]]] = [
    ({"audited-hosts-require-simple": {"auditedHosts": ["a.example"]}, "all": "advisory"}, []),
    ({"audited-hosts-require-simple": {"auditedHost": ["a.example"]}},
     ["policy pack config: audited-hosts-require-simple: unknown option 'auditedHost'; did you mean 'auditedHosts'?"]),
    ({"audited-host-require-simple": "mandatory"},
     ["policy pack config: unknown policy 'audited-host-require-simple'; "
      "did you mean 'audited-hosts-require-simple'?"]),
    ({"egress-via-gateway": {"enforcementLevel": "advisory", "hosts": ["x"]}},
     ["policy pack config: egress-via-gateway: unknown option 'hosts'; the choices are enforcementLevel"]),
    ({"zzz": "advisory"},
     ["policy pack config: unknown policy 'zzz'; the choices are allowed-hosts, audited-hosts-require-simple, "
      "egress-via-gateway"]),
]


@pytest.mark.parametrize(("config", "problems"), CONFIG_TYPOS)
def test_config_typos(config: dict[str, Any], problems: list[str]) -> None:
    assert config_typos(config, SCHEMAS) == problems


def _check(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    return cli.main(argv), out.getvalue(), err.getvalue()


CHECK_TYPOS = [
    ('{"audited-hosts-require-simple": {"auditedHost": ["api.stripe.com"]}}',
     "policy pack config: audited-hosts-require-simple: unknown option 'auditedHost'; did you mean 'auditedHosts'?"),
    ('{"allowed-host": {"allowedHosts": ["api.stripe.com"]}}',
     "policy pack config: unknown policy 'allowed-host'; did you mean 'allowed-hosts'?"),
]


@pytest.mark.parametrize(("config", "message"), CHECK_TYPOS)
def test_check_refuses_misspelt_policy_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              config: str, message: str) -> None:
    (tmp_path / "config.json").write_text(config)
    argv = ["check", str(FIXTURES / "manifests" / "blog-recipe.yaml"), "--policy-config", str(tmp_path / "config.json")]
    assert _check(argv, monkeypatch) == (2, "", f"error: {message}\n")


def test_the_pack_itself_reports_an_unknown_option_once() -> None:
    # Over the wire the CLI learns only `properties`, never additionalProperties: false, and passes a
    # misspelt option through; the pack is what refuses it.
    config = {"audited-hosts-require-simple": {"enforcementLevel": "mandatory", "auditedHost": ["api.stripe.com"]}}
    manifest = {"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry",
                "metadata": {"name": "x", "namespace": "istio-system"},
                "spec": {"hosts": ["api.stripe.com"], "exportTo": ["."], "location": "MESH_EXTERNAL",
                         "resolution": "DNS", "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}}
    with PolicyPackProcess(ROOT / "pulumi_istio_egress" / "pack") as pack:
        pack.configure({p.name: {"enforcementLevel": p.enforcement_level} for p in pack.info.policies} | config)
        first = pack.analyze(Resource.from_manifest(manifest))
        second = pack.analyze(Resource.from_manifest(manifest))
    reported = [(v.policy_name, v.message.split("\n", 1)[-1]) for v in first + second]
    typos = [r for r in reported if "unknown option" in r[1]]
    assert typos == [(
        "audited-hosts-require-simple",
        "policy pack config: audited-hosts-require-simple: unknown option 'auditedHost'; did you mean 'auditedHosts'?",
    )]


# -- the YAML example's comments say the ports apps really use -----------------------------------


def _snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).lower()


def test_yaml_example_comments_name_the_ports_apps_use() -> None:
    import yaml

    path = ROOT / "examples" / "yaml" / "Pulumi.yaml"
    lines = path.read_text().splitlines()
    resources = yaml.safe_load(path.read_text())["resources"]
    checked = []
    for i, line in enumerate(lines):
        name = re.fullmatch(r"  (\w+):", line)
        if not name or name.group(1) not in resources:
            continue
        block, j = [], i - 1
        while j >= 0 and lines[j].strip().startswith("#"):  # the comment block right above the resource
            block.insert(0, lines[j].strip().lstrip("# "))
            j -= 1
        comment = " ".join(block)
        route = parse_route({_snake(k): v for k, v in resources[name.group(1)]["properties"].items()})
        for scheme, host, port in re.findall(r"(https?)://([a-z0-9.-]+[a-z0-9])(?::(\d+))?", comment):
            expected = route.http_port if scheme == "http" else route.port
            assert host == route.host
            assert int(port or (80 if scheme == "http" else 443)) == expected, f"{name.group(1)}: {comment}"
            checked.append((name.group(1), scheme))
        for host, port in re.findall(r"originates TLS to ([a-z0-9.-]+):(\d+)", comment):
            assert (host, int(port)) == (route.host, route.port)
            checked.append((name.group(1), "origination"))
    assert sorted(checked) == [("bank", "http"), ("bank", "origination"), ("stripe", "https")]


# -- the README's Python snippet type-checks, the version lives in one place ----------------------


def test_readme_use_it_snippet_passes_mypy_strict(tmp_path: Path) -> None:
    import subprocess
    import sys

    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Use it\n", 1)[1]
    snippet = section.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "snippet.py").write_text(snippet)
    done = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent",
                           str(tmp_path / "snippet.py")], capture_output=True, text=True, cwd=ROOT, check=False)
    assert (done.returncode, done.stdout.splitlines()[-1:]) == (0, ["Success: no issues found in 1 source file"])


@pytest.mark.parametrize("pack", ["policy", "pulumi_istio_egress/pack"])
def test_pack_versions_are_the_package_version(pack: str) -> None:
    import yaml

    from pulumi_istio_egress import __version__

    assert yaml.safe_load((ROOT / pack / "PulumiPolicy.yaml").read_text())["version"] == __version__
