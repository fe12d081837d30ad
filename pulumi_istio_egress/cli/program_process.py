"""Render a Pulumi program in a child process, as ``pulumi preview`` runs it apart from the engine.

A checked program is untrusted input: run in the checker's interpreter it could ``os._exit(0)``,
register an ``atexit`` hook, monkeypatch the pack client or print into the YAML. Here it runs in
``python -m pulumi_istio_egress.program_process`` in its own process group, with its stdout on
the parent's stderr, and hands back its objects as one length-prefixed JSON message on a
dedicated pipe. The parent waits a bounded time, then stops the whole group; whatever the child
does, the parent only learns a list of objects (or an error) from it, and the verdict stays the
parent's.

Processes that leave the group (``os.setsid()`` then fork: a daemon) are not lost either: the
parent makes itself a child subreaper (Linux ``PR_SET_CHILD_SUBREAPER``), so every orphan of the
program is reparented to it rather than to init, and once the program has ended it kills and
reaps every process that is still a descendant of the program or was adopted meanwhile
(:mod:`process_tree`, which the pack's process can use too).

The program's output (stdout and stderr, one pipe) is held by the parent and written to its
stderr once the program has ended, with every secret value the program saw replaced by
``[secret]`` unless ``show_secrets`` (the child reports each secret value as it appears; the error
message is scrubbed the same way).
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

from ..cli.render import RenderedObject, RenderError
from ..process_tree import become_subreaper, children, disown, own, stop_process_tree
from .redaction import MIN_SCRUBBED, Secret, from_json, scrub, secret_texts, to_json

__all__ = ["RENDER_TIMEOUT", "render_in_child"]

RENDER_TIMEOUT = 300.0
"""Seconds a program may take to declare its objects."""
_MAX_RESULT = 1 << 30  # refuse a result claiming more than 1 GiB
_STOP_TIMEOUT = 5.0
_MAX_OUTPUT = 1 << 20  # the program's output kept for the terminal: its first and last 512 KiB


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _read_result(
    fd: int,
    deadline: float,
    box: list[bytes],
    progress: Callable[[int], None] | None,
    secrets: set[str] | None = None,
) -> None:
    """Read the child's messages from ``fd``: ``P <count>\n`` and ``S <length>\n<text>``, then ``R <length>\n<json>``.

    ``P`` reports progress, ``S`` a secret value (added to ``secrets``). Puts the ``R`` message
    (header and body) into ``box``; stops there, at EOF, or on garbage.
    """
    data = bytearray()
    with contextlib.suppress(OSError):
        while time.monotonic() < deadline and len(data) <= _MAX_RESULT:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            data += chunk
            while True:
                if data.startswith(b"P ") and b"\n" in data:
                    line, _, rest = bytes(data).partition(b"\n")
                    data = bytearray(rest)
                    if progress is not None and line[2:].isdigit():
                        progress(int(line[2:]))
                    continue
                if data.startswith(b"S ") and b"\n" in data:
                    head, _, rest = bytes(data).partition(b"\n")
                    if head[2:].isdigit() and len(rest) >= int(head[2:]):
                        if secrets is not None:
                            secrets.add(rest[: int(head[2:])].decode("utf-8", errors="replace"))
                        data = bytearray(rest[int(head[2:]) :])
                        continue
                break
            if data.startswith(b"R ") and b"\n" in data:
                head = bytes(data).partition(b"\n")[0]
                if not head[2:].isdigit() or int(head[2:]) > _MAX_RESULT:
                    break
                if len(data) >= len(head) + 1 + int(head[2:]):
                    break
            elif data[:2] and not any(tag.startswith(bytes(data[:2])) for tag in (b"P ", b"R ", b"S ")):
                break  # not our protocol: someone else wrote to the pipe
            elif data.startswith(b"S ") and b"\n" in data and not bytes(data).partition(b"\n")[0][2:].isdigit():
                break
    box.append(bytes(data))


def _read_output(fd: int, box: list[bytes]) -> None:
    """The program's output until EOF: its first and last :data:`_MAX_OUTPUT` / 2 bytes."""
    head, tail, skipped = bytearray(), bytearray(), 0
    half = _MAX_OUTPUT // 2
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 1 << 16):
            room = half - len(head)
            head += chunk[:room]
            tail += chunk[max(room, 0) :]
            if len(tail) > half:
                skipped += len(tail) - half
                del tail[: len(tail) - half]
    gap = b"\n... (%d bytes of the program's output left out) ...\n" % skipped if skipped else b""
    box.append(bytes(head) + gap + bytes(tail))


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
    show_secrets: bool = False,
) -> list[RenderedObject]:
    """:func:`cli.render.render_program` in a child process; :class:`RenderError` on any failure.

    ``progress`` is called (from a reader thread) with the running count of objects declared.
    The program's output goes to ``sys.stderr`` when it has ended, secrets scrubbed unless
    ``show_secrets``; so is the error's message.
    """
    request = json.dumps({"program_dir": str(Path(program_dir)), "stack": stack, "config_file": config_file})
    become_subreaper()
    adopted_before = children(os.getpid())
    read_fd, write_fd = os.pipe()
    out_read, out_write = os.pipe()
    argv = [sys.executable, "-P", "-m", __name__, str(write_fd), request]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out_write,
            stderr=out_write,
            pass_fds=(write_fd,),
            start_new_session=True,
        )
    except OSError as exc:
        os.close(read_fd)
        os.close(out_read)
        raise RenderError(f"cannot start a process for the program: {exc}") from None
    finally:
        os.close(write_fd)
        os.close(out_write)
    own(proc.pid)
    deadline = time.monotonic() + timeout
    box: list[bytes] = []
    output: list[bytes] = []
    secrets: set[str] = set()
    reader = threading.Thread(target=_read_result, args=(read_fd, deadline, box, progress, secrets), daemon=True)
    printer = threading.Thread(target=_read_output, args=(out_read, output), daemon=True)
    reader.start()
    printer.start()
    try:
        reader.join(timeout=max(0.0, deadline - time.monotonic()))
        timed_out = reader.is_alive()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.1, deadline - time.monotonic()) if not timed_out else 0.1)
    finally:
        # Whatever the program left running (helpers, daemons) goes: its group, then every
        # process that escaped the group (adopted by this subreaper), then the pipes close.
        _signal_group(proc.pid, signal.SIGKILL)
        stop_process_tree(proc.pid, adopted_before)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_TIMEOUT)
        stop_process_tree(proc.pid, adopted_before)
        disown(proc.pid)
        printer.join(timeout=_STOP_TIMEOUT)
        for thread, fd in ((reader, read_fd), (printer, out_read)):
            if not thread.is_alive():
                os.close(fd)  # else a process out of our reach still holds it; leave it
    texts = frozenset() if show_secrets else frozenset(t for t in secrets if len(t) >= MIN_SCRUBBED)
    if output and output[0]:
        _show_output(scrub(output[0].decode("utf-8", errors="replace"), texts))
    if timed_out:
        raise RenderError(f"the program did not finish within {timeout:g}s")
    raw = box[0] if box else b""
    if not raw:
        status = proc.returncode
        raise RenderError(f"the program's process exited (status {status}) before handing back its objects")
    try:
        return _decode(raw)
    except RenderError as exc:
        raise RenderError(scrub(str(exc), texts)) from None


def _show_output(text: str) -> None:
    stream = sys.stderr if sys.stderr is not None else sys.__stderr__
    if stream is not None:
        with contextlib.suppress(OSError, ValueError):
            stream.write(text if text.endswith("\n") else text + "\n")
            stream.flush()


_WRITE_LOCK = threading.Lock()  # frames come from the program's threads too: one at a time


def _write_all(fd: int, data: bytes) -> None:
    with _WRITE_LOCK:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]


PULUMI_CHECKED = ">=3.272,<4"
"""The pulumi versions :func:`_report_secrets`' private hook was read against (``pyproject.toml``'s range)."""


def _report_secrets(fd: int) -> None:
    """Tell the parent every secret value the program's outputs hold, as it resolves.

    Every resolved Output is one ``_OutputData`` (pulumi/output.py); one marked secret and
    known carries the plain value an ``apply`` hands the program, which it may print or raise
    with. A private hook, the one read of pulumi's internals here, checked against
    :data:`PULUMI_CHECKED`: without it (another SDK version) only the error's text goes
    unscrubbed, so ``tests/test_sdk_internals.py`` fails loudly when an upgrade removes it.
    """
    import pulumi.output as pulumi_output

    data_class = getattr(pulumi_output, "_OutputData", None)
    original = getattr(data_class, "__post_init__", None)
    if data_class is None or original is None:
        return
    seen: set[str] = set()

    def post_init(self: Any) -> None:
        original(self)
        if getattr(self, "is_secret", False) and getattr(self, "is_known", False):
            for text in secret_texts([Secret(self.value)]) - seen:
                seen.add(text)
                body = text.encode("utf-8", errors="replace")
                _write_all(fd, b"S %d\n" % len(body) + body)

    data_class.__post_init__ = post_init


def _child(argv: list[str]) -> None:
    fd = int(argv[0])
    os.set_inheritable(fd, False)  # programs' own subprocesses must not get the result pipe
    request: dict[str, Any] = json.loads(argv[1])
    from ..cli.render import render_program

    def progress(count: int) -> None:
        _write_all(fd, b"P %d\n" % count)

    _report_secrets(fd)
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
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stream.flush()
    os._exit(0)  # the program's atexit hooks and threads have nothing more to say


if __name__ == "__main__":
    _child(sys.argv[1:])
