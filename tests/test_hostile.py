"""Hostile and broken inputs (issue 12): the gate's verdict is the pack's, on what kubectl would apply.

Fixtures are small files under ``fixtures/hostile/``; inputs that must be large to matter (a
3 MiB object, a 120 KB host) are generated here from one line each.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from google.protobuf import json_format

from pulumi_istio_egress.cli import main as cli
from pulumi_istio_egress.cli import output_dir
from pulumi_istio_egress.cli.kubeyaml import ManifestError, read
from pulumi_istio_egress.cli.output_dir import INDEX
from pulumi_istio_egress.cli.pack_client import PolicyPackError, PolicyPackProcess, Secret
from pulumi_istio_egress.cli.pack_client import wire as analyzer
from pulumi_istio_egress.cli.program_process import render_in_child
from pulumi_istio_egress.cli.render import RenderError, object_file_name, to_yaml
from pulumi_istio_egress.cli.render.objects import _plain as render_plain
from pulumi_istio_egress.policies.objects import covering_patterns

ROOT = Path(__file__).parents[1]
PACK = str(ROOT / "policy")
HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
PROGRAMS = HOSTILE / "programs"


def check(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(["check", *argv, "--policy-pack", PACK] if "--policy-pack" not in argv else ["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def mandatory(out: str) -> list[str]:
    """``policy (object)`` of each mandatory violation in a text report."""
    return [line.split("]", 1)[1].strip().replace("  ", " ") for line in out.splitlines()
            if line.startswith("    [mandatory]")]


SSH = "ServiceEntry payments/ssh"
# allowed-ports judges only with a list (issue 9): the hostile fixtures allow 80 and 443.
PORTS = ["--policy-config", str(HOSTILE / "ports-80-443.json")]

# ---------------------------------------------------------------------------------------------
# What kubectl would apply is what is judged


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        pytest.param("service-entry-list.yaml",
                     [f"no-wildcard-hosts ({SSH})", f"allowed-ports ({SSH})"], id="any-List-kind"),
        pytest.param("configmap-with-items.yaml",
                     [f"no-wildcard-hosts ({SSH})", f"allowed-ports ({SSH})"], id="any-object-with-items"),
        pytest.param("yaml12-octal-port.yaml", [f"allowed-ports ({SSH})"], id="0o26-is-port-22"),
        pytest.param("yaml11-boolean.yaml",
                     ["verify-server-certificate (DestinationRule istio-system/api)"], id="y-is-true"),
    ],
)
def test_smuggled_objects_are_judged_as_kubectl_reads_them(
    fixture: str, expected: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = check([str(HOSTILE / fixture), *PORTS], capsys)
    found = mandatory(out)
    assert (code, [e for e in expected if e in found]) == (1, expected), out


def test_the_octal_port_is_reported_as_22(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = check([str(HOSTILE / "yaml12-octal-port.yaml"), *PORTS], capsys)
    assert "spec.ports[0].number: the port is not in allowedPorts (got 22)." in out


@pytest.mark.parametrize("fixture", ["empty.yaml", "bare-separator.yaml", "only-comments.yaml"])
def test_empty_input_is_not_a_pass(fixture: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(HOSTILE / fixture)
    assert check([path], capsys) == (
        2, "", f"error: nothing was judged: {path} declare(s) no objects; pass --allow-empty if that is expected\n")
    assert check([path, "--allow-empty"], capsys)[:2] == (0, "No policy violations (0 objects judged).\n")


def test_input_kubectl_accepts_is_judged_not_crashed_on(capsys: pytest.CaptureFixture[str]) -> None:
    # A timestamp, !!binary, integer and boolean keys: kubectl sends them; so must we.
    assert check([str(HOSTILE / "kubectl-accepts.yaml")], capsys)[0] == 0


REFUSED = [
    ("deep-nesting.yaml", "line 4, column 107: nested deeper than 100 levels"),
    ("alias-bomb.yaml", "line 1, column 40: document contains excessive aliasing"),
]


@pytest.mark.parametrize(("fixture", "problem"), REFUSED, ids=[f for f, _ in REFUSED])
def test_refused_input_exits_2_with_one_line_naming_file_place_and_problem(
    fixture: str, problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = HOSTILE / fixture
    assert check([str(path)], capsys) == (2, "", f"error: {path}: {problem}\n")


def test_policy_config_that_is_not_an_object(capsys: pytest.CaptureFixture[str]) -> None:
    config = HOSTILE / "config-list.json"
    assert check([str(HOSTILE / "yaml12-octal-port.yaml"), "--policy-config", str(config)], capsys) == (
        2, "", f"error: {config}: policy config must be a JSON object of policy names, not a list\n")


def test_objects_past_the_api_servers_limits_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: big}\ndata: {a: " + "x" * (3 << 20) + "}\n")
    long_name = tmp_path / "long-name.yaml"
    long_name.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: " + "n" * 254 + "}\n")

    assert check([str(big)], capsys) == (
        2, "", f"error: {big}: document 1: the object is 3145808 bytes as JSON; the API server's request limit "
        "is 3145728\n")
    assert check([str(long_name)], capsys) == (
        2, "", f"error: {long_name}: document 1: metadata.name is 254 characters long; Kubernetes allows 253 (got "
        f"'{'n' * 57}...')\n")


def test_host_patterns_of_an_over_long_host_are_not_built() -> None:
    # Every suffix of a 120 KB host was once built: 60 000 strings of ~60 KB each.
    host = "a." * 60_000 + "com"
    assert covering_patterns(host) == [host, "*"]
    assert covering_patterns("a.b.example.com") == ["a.b.example.com", "*.b.example.com", "*.example.com", "*.com",
                                                    "*"]


def test_names_reach_the_terminal_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = check([str(HOSTILE / "escape-in-name.yaml")], capsys)
    assert "\x1b" not in out and "\x07" not in out
    assert "(ServiceEntry payments/evil\\x1b]8;;https://x.example\\x07\\x1b[31m)" in out


# ---------------------------------------------------------------------------------------------
# The checked program cannot set the verdict


def test_a_program_that_exits_0_early_is_not_a_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert check([str(PROGRAMS / "exits-zero")], capsys) == (
        2, "", "error: the program's process exited (status 0) before handing back its objects\n")


def test_a_program_cannot_change_the_verdict_by_patching_the_checker(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check([str(PROGRAMS / "patches-checker")], capsys)
    assert (code, "no-wildcard-hosts (ServiceEntry payments/ssh)" in mandatory(out)) == (1, True), out


def test_a_programs_atexit_hook_cannot_change_the_exit_status() -> None:
    # The hook would run when the checker's own interpreter ends: run the checker as a process.
    done = subprocess.run(
        [sys.executable, "-m", "pulumi_istio_egress", "check", str(PROGRAMS / "atexit-zero"), "--policy-pack", PACK],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert (done.returncode, "no-wildcard-hosts  (ServiceEntry payments/ssh)" in done.stdout) == (1, True), done.stdout


def test_a_program_that_rewrites_the_pack_is_judged_by_the_pack_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pack = tmp_path / "policy"
    shutil.copytree(ROOT / "policy", pack, ignore=shutil.ignore_patterns("venv", "__pycache__"))
    monkeypatch.setenv("HOSTILE_PACK_DIR", str(pack))

    code, out, _ = check([str(PROGRAMS / "rewrites-pack"), "--policy-pack", str(pack)], capsys)

    assert "policies=[]" in (pack / "__main__.py").read_text()  # the program did rewrite it
    assert (code, "no-wildcard-hosts (ServiceEntry payments/ssh)" in mandatory(out)) == (1, True), out


def test_program_writes_to_fd_1_never_reach_the_yaml(capfd: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["render", str(PROGRAMS / "prints-to-stdout")])
    out, err = capfd.readouterr()
    assert (code, out) == (
        0, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns\ndata:\n  a: b\n")
    assert "kind: Injected" in err and "kind: AlsoInjected" in err


# ---------------------------------------------------------------------------------------------
# Secrets


def test_render_redacts_secrets_unless_asked(capsys: pytest.CaptureFixture[str]) -> None:
    program = str(PROGRAMS / "secret-host")
    assert cli.main(["render", program]) == 0
    redacted = capsys.readouterr().out
    assert cli.main(["render", program, "--show-secrets"]) == 0
    shown = capsys.readouterr().out
    assert ("hidden-token-4711" in redacted, "spec: '[secret]'" in redacted) == (False, True)
    assert "- '*.hidden-token-4711.example.com'" in shown


def test_secrets_come_back_from_the_child_still_marked() -> None:
    [obj] = render_in_child(PROGRAMS / "secret-host")
    assert obj.manifest["spec"] == Secret({
        "hosts": ["*.hidden-token-4711.example.com"], "exportTo": ["."], "location": "MESH_EXTERNAL",
        "resolution": "NONE", "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]})
    # ... and travel to the pack with Pulumi's secret signature.
    wire = analyzer._struct(obj.manifest, skip_internal=True)
    assert json_format.MessageToDict(wire)["spec"]["4dabf18193072939515e22adb298388d"] == (
        "1b47061264138c4ac30d75fd1eb44270")


@pytest.mark.parametrize("form", ["text", "json", "sarif"])
def test_reports_never_print_a_secret(form: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = check([str(PROGRAMS / "secret-host"), "--format", form], capsys)
    assert (code, "hidden-token-4711" in out + err, "[secret]" in out) == (1, False, True)


# ---------------------------------------------------------------------------------------------
# Processes


def test_a_pack_whose_helper_holds_its_stdout_is_stopped_in_bounded_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "helper.pid"
    monkeypatch.setenv("HOSTILE_PID_FILE", str(pid_file))
    outcome: list[BaseException] = []

    def start() -> None:
        try:
            with PolicyPackProcess(HOSTILE / "daemon-pack", startup_timeout=20):
                pass
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=start, daemon=True)
    worker.start()
    worker.join(timeout=60)  # once hung forever: closing a pipe whose reader blocks

    assert (worker.is_alive(), [type(e) for e in outcome]) == (False, [PolicyPackError])
    assert "wrote an invalid port to stdout: 'not-a-port'" in str(outcome[0])
    assert not running(int(pid_file.read_text()))  # the pack's whole process group was stopped


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for an init that does not reap (containers)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_a_program_that_never_finishes_is_stopped_with_its_helpers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "helper.pid"
    monkeypatch.setenv("HOSTILE_PID_FILE", str(pid_file))
    with pytest.raises(RenderError, match=r"^the program did not finish within 20s$"):
        render_in_child(PROGRAMS / "sleeps-forever", timeout=20)
    assert not running(int(pid_file.read_text()))


def test_a_write_error_on_stdout_is_exit_2(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class Full(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(sys, "stdout", Full())
    code = cli.main(["check", str(HOSTILE / "yaml12-octal-port.yaml"), "--policy-pack", PACK])
    assert (code, capsys.readouterr().err) == (2, "error: cannot write output: No space left on device\n")


def test_check_help_says_which_pack_runs_and_that_its_code_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["check", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert ("default: the pack installed with this package (see `pack-dir`); a DIR given here has its Python code "
            "run, so pass only a pack you trust") in text
    assert ("Exit 0 when no mandatory policy is violated, 1 when one is, 2 when the inputs or the pack could not "
            "be judged") in text


# ---------------------------------------------------------------------------------------------
# go-yaml v2's scalar rules, as kubectl applies them (sigs.k8s.io/yaml -> goyaml.v2 resolve())

SCALARS = [
    ("y", True), ("Yes", True), ("on", True), ("TRUE", True), ("n", False), ("off", False), ("NO", False),
    ("~", None), ("null", None), ("0o26", 22), ("0x1F", 31), ("0X1F", 31), ("0755", 493), ("08", 8),
    ("-0b11", -3), ("0b102", "0b102"), ("1_000", 1000), ("1e3", 1000), (".5", 0.5), ("+1", 1),
    ("2024-01-01", "2024-01-01"), ("12:30", "12:30"), ("1e400", "1e400"), ("NaN", "NaN"), ("yes-key", "yes-key"),
    ("99999999999999999999", 100000000000000000000),
]


@pytest.mark.parametrize(("text", "value"), SCALARS, ids=[t for t, _ in SCALARS])
def test_plain_scalars_resolve_as_go_yaml_v2_does(text: str, value: object) -> None:
    [item] = read(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\nv: {text}\n")
    assert (item.manifest["v"], type(item.manifest["v"])) == (value, type(value))


KEYS_AND_MERGES = [
    ("{1: a, true: b, 1.5: c}", {"1": "a", "true": "b", "1.5": "c"}),
    ("{y: a}", {"true": "a"}),  # go-yaml v2 reads the key y as a boolean too
    ("{a: 1, <<: {a: 2, b: 3}}", {"a": 2, "b": 3}),  # a merge writes where it stands
    ("{<<: [{a: 1}, {a: 2, b: 2}], c: 3}", {"a": 1, "b": 2, "c": 3}),  # earlier mappings win
    ("{s: !!str 12, i: !!int '12', b: !!binary aGk=}", {"s": "12", "i": 12, "b": "hi"}),
]


@pytest.mark.parametrize(("text", "value"), KEYS_AND_MERGES, ids=[t for t, _ in KEYS_AND_MERGES])
def test_keys_merges_and_tags_as_kubectl_sends_them(text: str, value: object) -> None:
    [item] = read(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\nv: {text}\n")
    assert item.manifest["v"] == value


READ_ERRORS = [
    ("v: .nan", "document 1: it holds a NaN or infinite number, which JSON (and so kubectl) cannot carry"),
    ("v: !!int abc", "line 4, column 4: cannot decode 'abc' as a !!int"),
    ("v: {? [a]: 1}", "line 4, column 7: a list cannot be a mapping key (JSON keys are strings)"),
    ("v: &a [*a]", "line 4, column 4: anchor value contains itself"),
    ("items: 3", "document 1: items: a list's items must be a list, not a number"),
]


@pytest.mark.parametrize(("text", "message"), READ_ERRORS, ids=[t for t, _ in READ_ERRORS])
def test_what_kubectl_refuses_is_refused(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        read(f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: a}}\n{text}\n")
    assert str(caught.value) == message


TRICKY_STRINGS = ["0X1F", "y", "0o17", "1_000", "08", "2024-01-01", "", "a\x85b", "line\u2028sep", "\ufeffbom",
                  "tab\tand\x1bescape", "multi\nline\n", "NaN", ".inf", "<<"]


@pytest.mark.parametrize("text", TRICKY_STRINGS, ids=[repr(t) for t in TRICKY_STRINGS])
def test_rendered_strings_read_back_the_same_by_kubectl(text: str) -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": text}}
    assert [i.manifest for i in read(to_yaml([manifest]))] == [manifest]


def test_render_refuses_numbers_json_cannot_carry() -> None:
    with pytest.raises(RenderError, match=r"^resource 'r': inputs.spec.x is nan, which Kubernetes' JSON cannot"):
        render_plain({"spec": {"x": float("nan")}}, "resource 'r'", "inputs")


# ---------------------------------------------------------------------------------------------
# render --out as a GitOps directory

EGRESS = str(Path(__file__).parent / "fixtures" / "programs" / "egress")
SE_FILE = "istio-egress.serviceentry.external-api.yaml"


def render_out(out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["render", EGRESS, "--out", str(out)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_out_replaces_links_instead_of_writing_through_them(
    link: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, outside = tmp_path / "out", tmp_path / "outside.txt"
    assert render_out(out, capsys)[0] == 0
    outside.write_text("not yours")
    (out / SE_FILE).unlink()
    (os.symlink if link == "symlink" else os.link)(outside, out / SE_FILE)

    assert render_out(out, capsys)[0] == 0
    entry = out / SE_FILE
    assert (outside.read_text(), entry.is_symlink(), entry.stat().st_nlink) == ("not yours", False, 1)


def test_out_refuses_a_directory_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "README.md").write_text("mine")
    assert render_out(out, capsys) == (2, f"error: {out} is not empty and was not written by render --out (no "
                                          f"{INDEX}); pass a new or empty directory\n")
    assert sorted(p.name for p in out.iterdir()) == ["README.md"]


def test_out_removes_the_files_of_objects_no_longer_declared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert render_out(out, capsys)[0] == 0
    # As left by an earlier run that declared one more route.
    (out / "istio-egress.serviceentry.deleted-route.yaml").write_text("kind: ServiceEntry\n")
    (out / INDEX).write_text((out / INDEX).read_text() + "istio-egress.serviceentry.deleted-route.yaml\n")
    (out / "kustomization.yaml").write_text("resources: []\n")  # not ours: left alone

    assert render_out(out, capsys)[0] == 0
    names = {p.name for p in out.iterdir()}
    assert ("istio-egress.serviceentry.deleted-route.yaml" in names, "kustomization.yaml" in names) == (False, True)


def test_out_is_all_or_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    assert render_out(out, capsys)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / SE_FILE).write_bytes(b"edited\n")
    before[SE_FILE] = b"edited\n"
    calls = []
    real = output_dir._write_temp

    def failing(directory: Path, data: bytes) -> Path:
        calls.append(1)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(directory / "x"))
        return real(directory, data)

    monkeypatch.setattr(output_dir, "_write_temp", failing)
    assert render_out(out, capsys) == (2, f"error: cannot write {out / 'x'}: No space left on device\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no temp files, nothing replaced


def test_out_file_names_are_bounded_and_stable() -> None:
    manifest = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "n" * 253, "namespace": "s" * 63}}
    name = object_file_name(manifest)
    assert (len(name), name == object_file_name(manifest), name.startswith(f"{'s' * 63}.configmap.nnn")) == (
        200, True, True)
