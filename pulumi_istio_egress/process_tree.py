"""Never leave processes behind: make this process a child subreaper, then kill and reap what escaped.

A child that calls ``os.setsid()`` and forks (a daemon) leaves its process group, so signalling
the group misses it, and when its parent ends it is adopted by init, out of reach. Linux lets a
process claim such orphans (``PR_SET_CHILD_SUBREAPER``): they are reparented to the nearest living
subreaper ancestor instead. After a child has ended, :func:`stop_process_tree` kills whatever is
still below it and every orphan adopted meanwhile, and reaps them. No Pulumi import: the
program's process (``program_process``) and the pack's (``plugin_process``) both use it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time

__all__ = ["STOP_TIMEOUT", "become_subreaper", "children", "descendants", "disown", "own", "stop_process_tree"]

STOP_TIMEOUT = 5.0
"""Seconds :func:`stop_process_tree` keeps killing and reaping."""
_PR_SET_CHILD_SUBREAPER = 36  # <linux/prctl.h>
_OURS: set[int] = set()
"""Children this process started itself and has not stopped yet: never taken for adopted orphans,
so stopping one plugin never kills another that was started after it (a test session shares them)."""


def own(pid: int) -> None:
    """Record ``pid`` as a child we started (see :data:`_OURS`)."""
    _OURS.add(pid)


def disown(pid: int) -> None:
    """``pid`` has been stopped: forget it."""
    _OURS.discard(pid)


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants; False where Linux prctl is missing.

    Without it, a process that escapes its group and its parent (double fork, ``setsid``) is
    adopted by init, out of reach. Idempotent; inherited by nothing (children start without it).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc (empty where there is no /proc)."""
    found: dict[int, int] = {}
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    # `pid (comm) state ppid ...`: comm may hold spaces and parentheses.
                    fields = stat.read().rpartition(b")")[2].split()
                found[int(entry)] = int(fields[1])
            except (OSError, IndexError, ValueError):
                continue  # it ended while we looked
    return found


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    return children


def children(pid: int) -> set[int]:
    """The living direct children of ``pid``."""
    return set(_children_map().get(pid, ()))


def descendants(pid: int) -> set[int]:
    """Every living process whose chain of parents leads to ``pid`` (``pid`` itself excluded)."""
    return _below([pid], _children_map())


def _below(roots: list[int], children_of: dict[int, list[int]]) -> set[int]:
    found: set[int] = set()
    queue = [child for root in roots for child in children_of.get(root, ())]
    while queue:
        child = queue.pop()
        if child not in found:
            found.add(child)
            queue.extend(children_of.get(child, ()))
    return found


def stop_process_tree(pid: int, adopted_before: set[int], timeout: float = STOP_TIMEOUT) -> None:
    """Kill ``pid``'s descendants, and every child this process adopted since ``adopted_before`` with theirs.

    ``adopted_before`` is :func:`children` of this process taken before ``pid`` was started
    (with :func:`become_subreaper` called): its own children, which must live on (the pack's
    process during a render, and whatever they start). An orphan is adopted as a direct child.
    Repeats until no such process is left (one may fork while we kill) or ``timeout`` passes,
    reaping those that became our children, so no zombie is left either. Call it after
    ``pid`` itself has been waited for (or killed: its group is the caller's business).
    """
    me = os.getpid()
    deadline = time.monotonic() + timeout
    while True:
        children_of = _children_map()
        adopted = set(children_of.get(me, ())) - adopted_before - _OURS - {pid}
        targets = _below([pid, *adopted], children_of) | adopted
        for target in targets:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(target, signal.SIGKILL)
        _reap(targets, deadline)
        if not targets or time.monotonic() >= deadline:
            return


def _reap(pids: set[int], deadline: float) -> None:
    waiting = set(pids)
    while waiting and time.monotonic() < deadline:
        for target in list(waiting):
            try:
                done, _ = os.waitpid(target, os.WNOHANG)
            except ChildProcessError:  # not our child: its own parent (also being killed) reaps it
                done = target
            if done:
                waiting.discard(target)
        if waiting:
            time.sleep(0.01)
