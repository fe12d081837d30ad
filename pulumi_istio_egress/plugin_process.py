"""A Pulumi plugin process, started and stopped the way the Pulumi CLI does it.

The CLI starts a plugin (a policy pack, a provider) as a child process, reads the gRPC port it
listens on from the first line of its stdout and then speaks gRPC to it; everything else the
plugin writes is log output. :class:`PluginProcess` is that, with the waits bounded and the
failures explained: a plugin that never prints a port, exits first or prints garbage fails with
the reason and the tail of its stderr. The plugin runs in its own process group, which
:meth:`PluginProcess.stop` signals as a whole, so helpers it started die with it.

Used by the policy-pack client (``cli/pack_client``) and the component provider's test harness
(``tests/plugin_harness.py``): one implementation of the lifecycle, tested in
``tests/test_plugin_process.py``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, NoReturn

from .process_tree import become_subreaper, children, disown, own, stop_process_tree

__all__ = ["PluginProcess", "PluginStartError"]

STOP_TIMEOUT = 5.0
"""Seconds to wait after SIGTERM, after SIGKILL, and for the output readers, each."""


class PluginStartError(RuntimeError):
    """The plugin did not report a usable port; the message says why and ends with its stderr tail."""


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class PluginProcess:
    """One plugin process: ``start``, ``await_port``, then ``stop`` (also as a context manager).

    ``on_output`` receives every non-blank line the plugin writes after its port line, from
    stdout and stderr, as it arrives (on reader threads); lines are complete once ``stop`` returned.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | os.PathLike[str],
        env: Mapping[str, str] | None = None,
        on_output: Callable[[str], None] | None = None,
        tail_lines: int = 30,
    ) -> None:
        self.argv = list(argv)
        self.cwd = Path(cwd)
        self.env = dict(env) if env is not None else None
        self.tail_lines = tail_lines
        self._on_output = on_output
        self._stderr: list[str] = []
        self._port_line: queue.Queue[str | None] = queue.Queue()
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._adopted_before: set[int] = set()

    def __enter__(self) -> PluginProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal)."""
        return self._proc.poll() if self._proc is not None else None

    def start(self) -> None:
        """Start the process; raises ``OSError`` when it cannot be started at all."""
        if self._proc is not None:
            raise RuntimeError("the plugin process was started already")
        # A helper that leaves the group (setsid) is reparented to us, not to init, so stop() can
        # find and end it too (process_tree).
        become_subreaper()
        self._adopted_before = children(os.getpid())
        self._proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group, stopped as a whole in stop()
        )
        own(self._proc.pid)
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._spawn(self._read_stdout, self._proc.stdout)
        self._spawn(self._read_stderr, self._proc.stderr)

    def await_port(self, timeout: float) -> int:
        """The port from the first stdout line, waiting at most ``timeout`` seconds. On failure the
        process is stopped (so the stderr tail is complete) and :class:`PluginStartError` raised."""
        try:
            line = self._port_line.get(timeout=timeout)
        except queue.Empty:
            self._fail(f"no port on stdout within {timeout:g}s")
        if line is None:
            self.stop()
            self._fail(f"exited with code {self.returncode} before writing its port")
        try:
            port = int(line.strip())
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            self._fail(f"wrote an invalid port to stdout: {line!r}")
        return port

    def stderr_tail(self) -> str:
        """The last lines of stderr, ready to append to a message: ``\\nstderr (last lines):\\n…``."""
        lines = self._stderr[-self.tail_lines :]
        if not any(line.strip() for line in lines):
            return "\n(stderr was empty)"
        return "\nstderr (last lines):\n" + "\n".join(lines)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the process group, SIGKILL it if it has not ended within ``timeout``, and join
        the output readers. Safe to call more than once, and before ``start``."""
        proc = self._proc
        if proc is None or self._stopped:
            return
        self._stopped = True
        # The group is signalled even after the plugin itself has exited: helpers it started
        # may still run.
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        stop_process_tree(proc.pid, self._adopted_before, timeout)
        disown(proc.pid)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            # A process that left the group (setsid) still holds the pipes. Closing a stream
            # while its reader thread blocks in read() waits for that read forever, so leave the
            # daemon readers to the interpreter's exit instead.
            return
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def _fail(self, reason: str) -> NoReturn:
        self.stop()  # joins the stderr reader, so the tail below is complete
        raise PluginStartError(f"{reason}{self.stderr_tail()}")

    def _spawn(self, target: Callable[[IO[bytes]], None], stream: IO[bytes]) -> None:
        thread = threading.Thread(target=target, args=(stream,), name=f"plugin-{target.__name__}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _emit(self, line: str) -> None:
        if self._on_output is not None and line.strip():
            self._on_output(line)

    def _read_stdout(self, stream: IO[bytes]) -> None:
        first = True
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            if first:
                self._port_line.put(line)
                first = False
            else:
                self._emit(line)
        if first:
            self._port_line.put(None)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            self._stderr.append(line)
            self._emit(line)
