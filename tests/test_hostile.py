"""Hostile and broken inputs (issue 12): the gate's verdict is the pack's, on what kubectl would apply.

Fixtures are small files under ``fixtures/hostile/``; inputs that must be large to matter (a
3 MiB object, a 120 KB host) are generated here from one line each.
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from pulumi_istio_egress import cli
from pulumi_istio_egress.analyzer import PolicyPackError, PolicyPackProcess
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
    code, out, _ = check([str(HOSTILE / fixture)], capsys)
    found = mandatory(out)
    assert (code, [e for e in expected if e in found]) == (1, expected), out


def test_the_octal_port_is_reported_as_22(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = check([str(HOSTILE / "yaml12-octal-port.yaml")], capsys)
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


@pytest.mark.parametrize("program", ["atexit-zero", "patches-checker"])
def test_a_program_cannot_change_the_verdict_from_inside(program: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check([str(PROGRAMS / program)], capsys)
    assert (code, "no-wildcard-hosts (ServiceEntry payments/ssh)" in mandatory(out)) == (1, True), out


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
    assert (code, out) == (0, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  namespace: ns\ndata:\n  a: b\n")
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


def test_check_help_says_the_default_pack_runs_code_from_the_current_directory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["check", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "default: ./policy, i.e. the pack's Python code is run from the current directory" in text
    assert "Exit 0 when no mandatory policy is violated, 1 when one is, 2 when the inputs or the pack could not be" in text
