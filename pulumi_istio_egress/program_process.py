"""Render a Pulumi program in a child process, as ``pulumi preview`` runs it apart from the engine.

A checked program is untrusted input: run in the checker's interpreter it could ``os._exit(0)``,
register an ``atexit`` hook, monkeypatch the pack client or print into the YAML. Here it runs in
``python -m pulumi_istio_egress.program_process`` in its own process group, with its stdout on
the parent's stderr, and hands back its objects as one length-prefixed JSON message on a
dedicated pipe. The parent waits a bounded time, then stops the whole group; whatever the child
does, the parent only learns a list of objects (or an error) from it, and the verdict stays the
parent's.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .cli.render import RenderedObject, RenderError
from .redaction import from_json, to_json

__all__ = ["RENDER_TIMEOUT", "render_in_child"]

RENDER_TIMEOUT = 300.0
"""Seconds a program may take to declare its objects."""
_MAX_RESULT = 1 << 30  # refuse a result claiming more than 1 GiB
_STOP_TIMEOUT = 5.0


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _read_result(fd: int, deadline: float, box: list[bytes], progress: Callable[[int], None] | None) -> None:
    """Read the child's messages from ``fd``: ``P <count>\n`` lines, then ``R <length>\n<json>``.

    Puts the ``R`` message (header and body) into ``box``; stops there, at EOF, or on garbage.
    """
    data = bytearray()
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline and len(data) <= _MAX_RESULT:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            data += chunk
            while data.startswith(b"P ") and b"\n" in data:
                line, _, rest = bytes(data).partition(b"\n")
                data = bytearray(rest)
                if progress is not None and line[2:].isdigit():
                    progress(int(line[2:]))
            if data.startswith(b"R ") and b"\n" in data:
                head = bytes(data).partition(b"\n")[0]
                if not head[2:].isdigit() or int(head[2:]) > _MAX_RESULT:
                    break
                if len(data) >= len(head) + 1 + int(head[2:]):
                    break
            elif data and not b"P ".startswith(bytes(data[:2])) and not b"R ".startswith(bytes(data[:2])):
                break  # not our protocol: someone else wrote to the pipe
    box.append(bytes(data))


def _decode(raw: bytes) -> list[RenderedObject]:
    head, _, body = raw.partition(b"\n")
    if not head.startswith(b"R ") or not head[2:].isdigit() or len(body) != int(head[2:]):
        raise RenderError("the program's process ended without handing back its objects")
    try:
        message = json.loads(body)
    except ValueError:
        raise RenderError("the program's process handed back something that is not its objects") from None
    if isinstance(message, dict) and isinstance(message.get("error"), str):
        raise RenderError(message["error"])
    objects = message.get("objects") if isinstance(message, dict) else None
    fields = ("pulumi_type", "pulumi_name", "urn", "parent_urn")
    if not isinstance(objects, list) or not all(
        isinstance(o, dict) and isinstance(o.get("manifest"), dict) and all(isinstance(o.get(f), str) for f in fields)
        for o in objects
    ):
        raise RenderError("the program's process handed back something that is not its objects")
    return [RenderedObject(from_json(o["manifest"]), *(o[f] for f in fields)) for o in objects]


def render_in_child(
    program_dir: str | os.PathLike[str],
    *,
    stack: str | None = None,
    config_file: str | None = None,
    timeout: float = RENDER_TIMEOUT,
    progress: Callable[[int], None] | None = None,
) -> list[RenderedObject]:
    """:func:`cli.render.render_program` in a child process; :class:`RenderError` on any failure.

    ``progress`` is called (from a reader thread) with the running count of objects declared.
    """
    request = json.dumps({"program_dir": str(Path(program_dir)), "stack": stack, "config_file": config_file})
    read_fd, write_fd = os.pipe()
    argv = [sys.executable, "-P", "-m", __name__, str(write_fd), request]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=sys.__stderr__ if sys.__stderr__ is not None else subprocess.DEVNULL,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(read_fd)
        raise RenderError(f"cannot start a process for the program: {exc}") from None
    finally:
        os.close(write_fd)
    deadline = time.monotonic() + timeout
    box: list[bytes] = []
    reader = threading.Thread(target=_read_result, args=(read_fd, deadline, box, progress), daemon=True)
    reader.start()
    try:
        reader.join(timeout=max(0.0, deadline - time.monotonic()))
        timed_out = reader.is_alive()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()) if not timed_out else 0.1)
    finally:
        # Whatever the program left running (helpers, daemons) goes with its group.
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_TIMEOUT)
        if not reader.is_alive():
            os.close(read_fd)  # else a process outside the group still holds it; leave it
    if timed_out:
        raise RenderError(f"the program did not finish within {timeout:g}s")
    raw = box[0] if box else b""
    if not raw:
        status = proc.returncode
        raise RenderError(f"the program's process exited (status {status}) before handing back its objects")
    return _decode(raw)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _child(argv: list[str]) -> None:
    fd = int(argv[0])
    os.set_inheritable(fd, False)  # programs' own subprocesses must not get the result pipe
    os.dup2(2, 1)  # prints to stdout (fd 1, even from C code) go to stderr, never into results
    request: dict[str, Any] = json.loads(argv[1])
    from .cli.render import render_program

    def progress(count: int) -> None:
        _write_all(fd, b"P %d\n" % count)

    try:
        objects = render_program(
            request["program_dir"], stack=request["stack"], config_file=request["config_file"], progress=progress
        )
        message: dict[str, Any] = {
            "objects": [
                {
                    "manifest": to_json(o.manifest),
                    "pulumi_type": o.pulumi_type,
                    "pulumi_name": o.pulumi_name,
                    "urn": o.urn,
                    "parent_urn": o.parent_urn,
                }
                for o in objects
            ]
        }
    except RenderError as exc:
        message = {"error": str(exc)}
    body = json.dumps(message, separators=(",", ":")).encode("utf-8")
    _write_all(fd, b"R %d\n" % len(body) + body)
    os.close(fd)
    sys.stderr.flush()
    os._exit(0)  # the program's atexit hooks and threads have nothing more to say


if __name__ == "__main__":
    _child(sys.argv[1:])
