"""``render --out DIR``: a directory of manifests that GitOps tools can deploy as they find it.

The directory is owned: the first run needs it new or empty, and every run records the files it
wrote in :data:`INDEX`. A later run replaces exactly those files and removes the ones no longer
declared (a deleted route's objects must not stay deployed); a directory that is not empty and
has no index is refused, so ``render`` never deletes or overwrites files it did not write.

Writes are all-or-nothing: every file is first written to a temporary file in DIR and synced;
only when all exist are they renamed into place (rename is atomic, so readers never see a
partial file), then the index, then stale files are removed. A rename replaces a symlink or hard
link already at a name instead of writing through it, and temporary files are created with
``O_EXCL | O_NOFOLLOW``: nothing outside DIR is ever written.
"""

from __future__ import annotations

import contextlib
import os
import secrets as _random
import stat
from collections.abc import Mapping
from pathlib import Path

__all__ = ["INDEX", "OutputDirError", "write_output_dir"]

INDEX = ".pulumi-istio-egress-files"
"""One file name a line: what the last ``render --out`` wrote into the directory."""
_TEMP_PREFIX = ".tmp-pulumi-istio-egress-"


class OutputDirError(Exception):
    """The directory cannot be written as asked; nothing in it was changed."""


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def _previous(directory: Path) -> set[str] | None:
    """The files the last run wrote, or None when ``directory`` is not ours (and not empty)."""
    entries = [e for e in os.listdir(directory) if not e.startswith(_TEMP_PREFIX)]
    index = directory / INDEX
    if INDEX not in entries:
        return set() if not entries else None
    if not _is_regular(index):
        raise OutputDirError(f"{index} is not a regular file; remove it")
    names = index.read_text(encoding="utf-8").splitlines()
    return {n for n in names if n and "/" not in n and n not in (".", "..", INDEX)}


def _write_temp(directory: Path, data: bytes) -> Path:
    path = directory / f"{_TEMP_PREFIX}{_random.token_hex(8)}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def write_output_dir(directory: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Make ``directory`` hold exactly ``files`` (name -> content) among the files it owns.

    Returns the paths written. :class:`OutputDirError` for a directory that is not ours, a
    symlink, or a name that would replace a file this command did not write; ``OSError`` for
    the file system's own failures, in which case nothing changed.
    """
    if directory.is_symlink():
        raise OutputDirError(f"{directory} is a symbolic link; pass the real directory")
    directory.mkdir(parents=True, exist_ok=True)
    previous = _previous(directory)
    if previous is None:
        raise OutputDirError(
            f"{directory} is not empty and was not written by render --out (no {INDEX}); "
            "pass a new or empty directory"
        )
    for name in files:
        if name in (INDEX,) or name.startswith(_TEMP_PREFIX) or "/" in name:
            raise OutputDirError(f"cannot write a file named {name!r}")
        if name not in previous and os.path.lexists(directory / name):
            raise OutputDirError(f"{directory / name} exists and was not written by render --out; move it away")
    staged: dict[str, Path] = {}
    try:
        for name, data in files.items():
            staged[name] = _write_temp(directory, data)
        index_data = "".join(f"{name}\n" for name in sorted(files)).encode("utf-8")
        staged_index = _write_temp(directory, index_data)
    except BaseException:
        for path in staged.values():
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    written = []
    for name, path in staged.items():
        os.replace(path, directory / name)  # replaces a link at that name; never follows it
        written.append(directory / name)
    os.replace(staged_index, directory / INDEX)
    for name in sorted(previous - set(files)):
        with contextlib.suppress(FileNotFoundError):
            (directory / name).unlink()  # a link is removed itself, not its target
    return written
