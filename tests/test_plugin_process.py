"""The plugin process helper the pack client and the provider harness share: the port line,
bounded waits, the stderr tail, and stopping the whole process group."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from pulumi_istio_egress.plugin_process import PluginProcess, PluginStartError


def plugin(code: str, tmp_path: Path, **kw: object) -> PluginProcess:
    """A fake plugin: ``python -c CODE`` (``sys`` and ``time`` imported)."""
    return PluginProcess([sys.executable, "-u", "-c", f"import os, signal, sys, time\n{code}"], cwd=tmp_path, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "timeout", "message", "returncode"),
    [
        pytest.param("sys.stderr.write('boom\\n'); sys.exit(3)", 30.0,
                     "exited with code 3 before writing its port\nstderr (last lines):\nboom", 3, id="exits-first"),
        pytest.param("print('hello'); time.sleep(60)", 30.0,
                     "wrote an invalid port to stdout: 'hello'\n(stderr was empty)", -signal.SIGTERM,
                     id="not-a-number"),
        pytest.param("print('70000'); time.sleep(60)", 30.0,
                     "wrote an invalid port to stdout: '70000'\n(stderr was empty)", -signal.SIGTERM,
                     id="out-of-range"),
        pytest.param("print('0'); time.sleep(60)", 30.0,
                     "wrote an invalid port to stdout: '0'\n(stderr was empty)", -signal.SIGTERM, id="zero"),
        pytest.param("sys.stderr.write('starting\\n'); time.sleep(60)", 0.5,
                     "no port on stdout within 0.5s\nstderr (last lines):\nstarting", -signal.SIGTERM, id="silent"),
    ],
)
def test_a_plugin_without_a_port_fails_with_the_reason_and_its_stderr_and_is_stopped(
    tmp_path: Path, code: str, timeout: float, message: str, returncode: int
) -> None:
    process = plugin(code, tmp_path)
    process.start()
    with pytest.raises(PluginStartError) as caught:
        process.await_port(timeout)
    assert str(caught.value) == message
    assert process.returncode == returncode  # stopped and reaped before the error was raised


def test_the_port_is_the_first_stdout_line_and_later_output_is_passed_on(tmp_path: Path) -> None:
    lines: list[str] = []
    code = ("print(' 4242 '); print('out 1'); print(''); sys.stderr.write('err 1\\n'); sys.stdout.flush(); "
            "time.sleep(60)")
    with plugin(code, tmp_path, on_output=lines.append) as process:
        assert process.await_port(30.0) == 4242
        deadline = time.monotonic() + 30
        while len(lines) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert sorted(lines) == ["err 1", "out 1"]  # two streams, two threads: no order between them; blank dropped
    assert process.returncode == -signal.SIGTERM


def test_the_stderr_tail_keeps_the_last_lines(tmp_path: Path) -> None:
    process = plugin("sys.stderr.write('a\\nb\\nc\\n'); sys.exit(1)", tmp_path, tail_lines=2)
    process.start()
    with pytest.raises(PluginStartError) as raised:
        process.await_port(30.0)
    assert str(raised.value) == "exited with code 1 before writing its port\nstderr (last lines):\nb\nc"


def test_a_plugin_that_ignores_sigterm_is_killed(tmp_path: Path) -> None:
    code = "signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1234); time.sleep(60)"
    with plugin(code, tmp_path) as process:
        assert process.await_port(30.0) == 1234
        process.stop(timeout=0.5)
    assert process.returncode == -signal.SIGKILL


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state == "Z"  # dead, waiting for its new parent to reap it


def test_stop_ends_the_whole_process_group_even_after_the_plugin_itself_exited(tmp_path: Path) -> None:
    # The plugin starts a helper in its group, reports the helper's pid and exits at once.
    code = ("import subprocess; helper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "print(5555); print(helper.pid); sys.stdout.flush(); os._exit(0)")
    pids: list[str] = []
    with plugin(code, tmp_path, on_output=pids.append) as process:
        assert process.await_port(30.0) == 5555
        deadline = time.monotonic() + 30
        while not pids and time.monotonic() < deadline:
            time.sleep(0.05)
        helper = int(pids[0])
        assert not _gone(helper)
    deadline = time.monotonic() + 10
    while not _gone(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(helper)


def test_stop_is_safe_before_start_and_twice(tmp_path: Path) -> None:
    process = plugin("print(1); time.sleep(60)", tmp_path)
    process.stop()
    process.start()
    assert process.await_port(30.0) == 1
    process.stop()
    process.stop()
    assert process.returncode == -signal.SIGTERM
    assert os.getpgid(os.getpid()) != process.pid  # it had its own group, not ours


def test_a_helper_that_left_the_group_is_stopped_too(tmp_path: Path) -> None:
    # The helper calls setsid (its own session and group) and the plugin exits: the helper is
    # orphaned, reparented to us (process_tree.become_subreaper) and found by stop().
    helper_code = "import os, time; os.setsid(); time.sleep(60)"
    code = (f"import subprocess; helper = subprocess.Popen([sys.executable, '-c', {helper_code!r}]); "
            "time.sleep(0.5); print(6666); print(helper.pid); sys.stdout.flush(); os._exit(0)")
    pids: list[str] = []
    with plugin(code, tmp_path, on_output=pids.append) as process:
        assert process.await_port(30.0) == 6666
        deadline = time.monotonic() + 30
        while not pids and time.monotonic() < deadline:
            time.sleep(0.05)
        helper = int(pids[0])
        assert not _gone(helper)
    assert _gone(helper)  # stop() kills and reaps it before returning


def test_stopping_one_plugin_leaves_a_later_one_running(tmp_path: Path) -> None:
    # Both are our own children; the later one must not be taken for an orphan the first left.
    first, second = plugin("print(1); time.sleep(60)", tmp_path), plugin("print(2); time.sleep(60)", tmp_path)
    first.start()
    second.start()
    try:
        assert (first.await_port(30.0), second.await_port(30.0)) == (1, 2)
        first.stop()
        assert second.returncode is None
    finally:
        first.stop()
        second.stop()
