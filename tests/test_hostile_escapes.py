"""The offline gate's last holes (issue 12): escaped daemons, secrets in a failed program's output,
a half-swapped ``--out``, hosts and names past their limits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pulumi_istio_egress.cli import main as cli
from pulumi_istio_egress.cli import output_dir
from pulumi_istio_egress.cli.kubeyaml import ManifestError, read
from pulumi_istio_egress.cli.output_dir import INDEX, JOURNAL, recover, write_output_dir
from pulumi_istio_egress.cli.program_process import render_in_child
from pulumi_istio_egress.process_tree import (
    become_subreaper,
    children,
    stop_process_tree,
)

HOSTILE = Path(__file__).parent / "fixtures" / "hostile"
PROGRAMS = HOSTILE / "programs"


def gone(pid: int) -> bool:
    """Neither running nor a zombie left for someone to reap."""
    return not Path(f"/proc/{pid}").exists()


# ---------------------------------------------------------------------------------------------
# 1. A process that leaves the group (setsid, then fork) is killed and reaped


def test_a_programs_daemon_that_left_the_group_is_killed_and_reaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "daemon.pid"
    monkeypatch.setenv("HOSTILE_PID_FILE", str(pid_file))
    [obj] = render_in_child(PROGRAMS / "daemon-escapes", timeout=60)
    assert (obj.manifest["kind"], gone(int(pid_file.read_text()))) == ("ConfigMap", True)


DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        open(sys.argv[1] + ".part", "w").write(str(os.getpid())); os.rename(sys.argv[1] + ".part", sys.argv[1])
        time.sleep(300)
    os._exit(0)
os.wait()
while not os.path.exists(sys.argv[1]):
    time.sleep(0.01)
time.sleep(300)
"""


def test_stop_process_tree_stops_any_process_and_what_escaped_it(tmp_path: Path) -> None:
    # What the pack's process (plugin_process.py) calls: any child, not only a program's.
    pid_file = tmp_path / "daemon.pid"
    assert become_subreaper()
    # Ours from before (the pack's process during a render): what it starts meanwhile lives on.
    keeper_file = tmp_path / "keeper-child.pid"
    keeper = subprocess.Popen(["sh", "-c", f"sleep 0.3; sleep 60 & echo $! > {keeper_file}; wait"])
    before = children(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", DAEMON, str(pid_file)], start_new_session=True)
    for _ in range(1000):
        if pid_file.exists() and keeper_file.exists() and keeper_file.read_text().strip():
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=10)
    stop_process_tree(proc.pid, before)
    keeper_child = int(keeper_file.read_text())
    alive = not gone(keeper_child)
    os.kill(keeper_child, 9)
    keeper.wait(timeout=10)
    assert (gone(int(pid_file.read_text())), alive, children(os.getpid()) - before) == (True, True, set())


# ---------------------------------------------------------------------------------------------
# 2. A failed (or chatty) program's output and error never print a secret


SECRET_CASES = [
    pytest.param("raises-secret", [], 2,
                 ["error: program raised ValueError: token [secret] refused (at __main__.py:6)"], id="raises"),
    pytest.param("raises-secret", ["--show-secrets"], 2,
                 ["error: program raised ValueError: token hidden-token-4711 refused (at __main__.py:6)"],
                 id="raises-shown"),
    pytest.param("config-secret", [], 2,
                 ["error: program raised RunError: cannot log in with [secret] (at __main__.py:5)"],
                 id="config-secret-run-error"),
    pytest.param("prints-secret", [], 0,
                 ["debug: token=[secret]", "log: token=[secret]", "stdout: token=[secret]"], id="prints"),
]


@pytest.mark.parametrize(("program", "extra", "code", "lines"), SECRET_CASES)
def test_a_programs_output_and_error_are_scrubbed_of_secrets(
    program: str, extra: list[str], code: int, lines: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["render", str(PROGRAMS / program), *extra]) == code
    err = capsys.readouterr().err
    assert sorted(line for line in err.splitlines() if line) == lines


# ---------------------------------------------------------------------------------------------
# 3. render --out: all-or-nothing, also when the run is killed in the middle of the swap

OLD = {"a.yaml": b"old a\n", "b.yaml": b"old b\n", "stale.yaml": b"old stale\n"}
NEW = {"a.yaml": b"new a\n", "b.yaml": b"new b\n", "c.yaml": b"new c\n"}


def contents(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def old_set(directory: Path) -> dict[str, bytes]:
    write_output_dir(directory, OLD)
    return contents(directory)


def killed_at(directory: Path, call: int) -> int:
    """Run the swap in a forked child that dies (no cleanup at all) at its ``call``-th rename."""
    pid = os.fork()
    if pid == 0:
        try:
            real, count = os.replace, [0]

            def dying(src: object, dst: object) -> None:
                count[0] += 1
                if count[0] == call:
                    os._exit(9)
                real(src, dst)  # type: ignore[arg-type]

            output_dir.os.replace = dying  # type: ignore[assignment]
            write_output_dir(directory, NEW)
        finally:
            os._exit(0)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


# journal into place, 4 moved aside (a, b, index, stale), 4 placed (a, b, c, index): 9 renames.
@pytest.mark.parametrize("call", range(1, 10))
def test_a_run_killed_in_the_middle_of_the_swap_is_rolled_back_by_the_next(call: int, tmp_path: Path) -> None:
    before = old_set(tmp_path)
    assert killed_at(tmp_path, call) == 9
    # Until the recovery, a name holds a whole old or a whole new file, never a partial one.
    assert all(content in (OLD.get(name), NEW.get(name), before.get(name), None)
               for name, content in contents(tmp_path).items() if not name.startswith("."))
    recover(tmp_path)
    assert contents(tmp_path) == before
    write_output_dir(tmp_path, NEW)
    assert contents(tmp_path) == {**NEW, INDEX: b"a.yaml\nb.yaml\nc.yaml\n"}


@pytest.mark.parametrize("call", range(1, 10))
def test_a_failed_rename_puts_the_old_set_back_at_once(
    call: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = old_set(tmp_path)
    real, count = os.replace, [0]

    def failing(src: object, dst: object) -> None:
        count[0] += 1
        if count[0] == call:
            raise OSError(5, "Input/output error")
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(output_dir.os, "replace", failing)
    with pytest.raises(OSError, match="Input/output error"):
        write_output_dir(tmp_path, NEW)
    monkeypatch.setattr(output_dir.os, "replace", real)
    assert (contents(tmp_path), JOURNAL in os.listdir(tmp_path)) == (before, False)


def test_a_damaged_journal_is_refused_not_guessed(tmp_path: Path) -> None:
    old_set(tmp_path)
    (tmp_path / JOURNAL).write_text(json.dumps({"place": [["x", "../outside"]], "aside": []}))
    with pytest.raises(output_dir.OutputDirError) as caught:
        write_output_dir(tmp_path, NEW)
    assert str(caught.value) == f"{tmp_path / JOURNAL} names '../outside'; restore {tmp_path} from version control"


# ---------------------------------------------------------------------------------------------
# 4. Hosts past Istio's 255 characters and names past Kubernetes' limits are refused at read time

H256 = "h" * 252 + ".com"
LIMITS = [
    ("se-host.yaml", f"document 1: spec.hosts[1] is a host of 256 characters; Istio allows 255 (got '{'h' * 57}...')"),
    ("dr-host.yaml", f"document 1: spec.host is a host of 256 characters; Istio allows 255 (got '{'h' * 57}...')"),
    ("vs-destination.yaml", "document 1: spec.http[0].route[0].destination.host is a host of 256 characters; Istio "
                            f"allows 255 (got '{'h' * 57}...')"),
    ("gateway-host.yaml", "document 1: spec.servers[0].hosts[0] is a host of 256 characters; Istio allows 255 (got "
                          f"'{'h' * 57}...')"),
    ("label-value.yaml", "document 1: metadata.labels: the value of label 'app' is 64 characters long; Kubernetes "
                         "allows 63"),
]


@pytest.mark.parametrize(("fixture", "message"), LIMITS, ids=[f for f, _ in LIMITS])
def test_hosts_and_names_past_their_limits_are_refused_when_read(fixture: str, message: str) -> None:
    text = (HOSTILE / "limits" / fixture).read_text().replace("HOST256", H256).replace("V64", "v" * 64)
    with pytest.raises(ManifestError) as caught:
        read(text)
    assert str(caught.value) == message


def test_a_host_of_255_characters_is_read(capsys: pytest.CaptureFixture[str]) -> None:
    text = (HOSTILE / "limits" / "se-host.yaml").read_text().replace("HOST256", H256[1:])
    assert [i.place for i in read(text)] == ["document 1"]


def test_check_names_the_file_for_an_over_long_host(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "se.yaml"
    path.write_text((HOSTILE / "limits" / "se-host.yaml").read_text().replace("HOST256", H256))
    assert cli.main(["check", str(path), "--policy-pack", str(Path(__file__).parents[1] / "policy")]) == 2
    assert capsys.readouterr().err == f"error: {path}: {LIMITS[0][1]}\n"


PROGRAM_LIMITS = [
    ("plain", f"resource 'plain': spec.hosts[0] is a host of 256 characters; Istio allows 255 (got '{'h' * 57}...')"),
    # The secret host is counted, never quoted (a shortened quote would escape the scrubbing).
    ("secret", "resource 'secret': spec.hosts[0] is a host of 256 characters; Istio allows 255 (got '[secret]')"),
]


@pytest.mark.parametrize(("which", "message"), PROGRAM_LIMITS, ids=[w for w, _ in PROGRAM_LIMITS])
def test_a_programs_objects_meet_the_same_limits(
    which: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOSTILE_WHICH", which)
    program = PROGRAMS / "long-host"
    assert cli.main(["check", str(program), "--policy-pack", str(Path(__file__).parents[1] / "policy")]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"error: {program}: {message}"


PACK = str(Path(__file__).parents[1] / "policy")


@pytest.mark.parametrize("form", ["text", "json", "sarif"])
def test_a_huge_value_is_quoted_shortened_in_every_report(
    form: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Once a 10 MB host gave 104 MB of messages; values are quoted at most 200 characters.
    path = tmp_path / "long-value.yaml"
    path.write_text((HOSTILE / "limits" / "long-value.yaml").read_text().replace("LONG", "x" * 500_000))
    assert cli.main(["check", str(path), "--policy-pack", PACK, "--format", form]) == 1
    out = capsys.readouterr().out
    assert (len(out) < 20_000, "(500000 characters)" in out) == (True, True)


def test_an_object_declared_twice_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    path = HOSTILE / "limits" / "declared-twice.yaml"
    assert cli.main(["check", str(path), "--policy-pack", PACK]) == 2
    assert capsys.readouterr().err == (
        "error: the same object is declared twice: urn:pulumi:stack::project::kubernetes:core/v1:ConfigMap::"
        "payments/twice\n")


def test_large_files_are_parsed_by_libyaml() -> None:
    """Issue 12: a 200 MB file took 205 s on PyYAML's pure-Python parser. Manifests are composed by
    libyaml's C parser (PyYAML's wheels ship it); the pure-Python one is only a fallback where PyYAML
    was built without it, and the test environment must not be such a build."""
    import yaml

    from pulumi_istio_egress.cli import kubeyaml

    assert yaml.__with_libyaml__
    assert issubclass(kubeyaml._Loader, yaml.CSafeLoader)
