"""``render --out DIR``: a directory of manifests that GitOps tools can deploy as they find it.

The directory is owned: the first run needs it new or empty, and every run records the files it
wrote in :data:`INDEX`. A later run replaces exactly those files and removes the ones no longer
declared (a deleted route's objects must not stay deployed); a directory that is not empty and
has no index is refused, so ``render`` never deletes or overwrites files it did not write.

Writes are all-or-nothing, with a journal: every file (and the new index) is first written to a
temporary file in DIR and synced; then :data:`JOURNAL` records the swap (which temporary file
goes to which name, where each file it replaces or removes is moved aside); then the old files
are renamed aside, the new ones into place, the index last. Removing the journal is the commit;
the files moved aside are deleted after it. Any failure before the commit puts the old files
back at once; a run that was killed leaves the journal, and the next run rolls it back first
(:func:`recover`), so DIR ends with the whole old set or the whole new set, never a mix. Renames
are atomic (readers never see a partial file) and replace a symlink or hard link at a name
instead of writing through it; temporary files are created with ``O_EXCL | O_NOFOLLOW``:
nothing outside DIR is ever written.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets as _random
import stat
from collections.abc import Mapping
from pathlib import Path

__all__ = ["INDEX", "JOURNAL", "OutputDirError", "recover", "write_output_dir"]

INDEX = ".pulumi-istio-egress-files"
"""One file name a line: what the last ``render --out`` wrote into the directory."""
_TEMP_PREFIX = ".tmp-pulumi-istio-egress-"
JOURNAL = ".pulumi-istio-egress-journal"
"""Present only while a swap is under way: ``{"place": [[temp, name], ...], "aside": [[name, backup], ...]}``."""


class OutputDirError(Exception):
    """The directory cannot be written as asked; nothing in it was changed."""


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.lstat().st_mode)
    except FileNotFoundError:
        return False


def _previous(directory: Path) -> set[str] | None:
    """The files the last run wrote, or None when ``directory`` is not ours (and not empty)."""
    entries = [e for e in os.listdir(directory) if not e.startswith(_TEMP_PREFIX) and e != JOURNAL]
    index = directory / INDEX
    if INDEX not in entries:
        return set() if not entries else None
    if not _is_regular(index):
        raise OutputDirError(f"{index} is not a regular file; remove it")
    names = index.read_text(encoding="utf-8").splitlines()
    return {n for n in names if n and "/" not in n and n not in (".", "..", INDEX)}


def _temp_name() -> str:
    return f"{_TEMP_PREFIX}{_random.token_hex(8)}"


def _sync_dir(directory: Path) -> None:
    # The renames themselves must reach the disk in order: journal before swap, swap before commit.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_temp(directory: Path, data: bytes) -> Path:
    path = directory / _temp_name()
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
    the file system's own failures, in which case nothing changed (the old files are back).
    """
    if directory.is_symlink():
        raise OutputDirError(f"{directory} is a symbolic link; pass the real directory")
    directory.mkdir(parents=True, exist_ok=True)
    recover(directory)  # a swap a killed run left half done is rolled back before anything else
    previous = _previous(directory)
    if previous is None:
        raise OutputDirError(
            f"{directory} is not empty and was not written by render --out (no {INDEX}); "
            "pass a new or empty directory"
        )
    for name in files:
        if name in (INDEX, JOURNAL) or name.startswith(_TEMP_PREFIX) or not _safe(name):
            raise OutputDirError(f"cannot write a file named {name!r}")
        if name not in previous and os.path.lexists(directory / name):
            raise OutputDirError(f"{directory / name} exists and was not written by render --out; move it away")
    staged: dict[str, Path] = {}
    try:
        for name, data in files.items():
            staged[name] = _write_temp(directory, data)
        index_data = "".join(f"{name}\n" for name in sorted(files)).encode("utf-8")
        staged[INDEX] = _write_temp(directory, index_data)
    except BaseException:
        for path in staged.values():
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    # Old files that are replaced or removed (stale), and the old index, go aside first.
    replaced = sorted(set(files) | previous | {INDEX})
    journal = {
        "place": [[path.name, name] for name, path in staged.items()],
        "aside": [[name, _temp_name()] for name in replaced if os.path.lexists(directory / name)],
    }
    try:
        journal_temp = _write_temp(directory, json.dumps(journal).encode("utf-8"))
        os.replace(journal_temp, directory / JOURNAL)
        _sync_dir(directory)
        for name, backup in journal["aside"]:
            os.replace(directory / name, directory / backup)
        for temp, name in journal["place"]:
            os.replace(directory / temp, directory / name)  # replaces a link at that name; never follows it
        _sync_dir(directory)
        (directory / JOURNAL).unlink()  # the commit
    except BaseException:
        recover(directory)
        raise
    _sync_dir(directory)
    for _, backup in journal["aside"]:
        with contextlib.suppress(FileNotFoundError):
            (directory / backup).unlink()  # a link is removed itself, not its target
    return [directory / name for name in files]


def recover(directory: Path) -> None:
    """Roll back a swap that did not commit (its :data:`JOURNAL` is there): the old files return.

    Then removes this command's leftover temporary files. Safe to repeat: every step checks
    what is there first, so a recovery that is itself interrupted is finished by the next.
    """
    journal_path = directory / JOURNAL
    if _is_regular(journal_path):
        try:
            journal = json.loads(journal_path.read_text(encoding="utf-8"))
            place = [(str(t), str(n)) for t, n in journal["place"]]
            aside = [(str(n), str(b)) for n, b in journal["aside"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise OutputDirError(
                f"{journal_path} is damaged ({exc}); restore {directory} from version control"
            ) from None
        for name in (*(n for _, n in place), *(n for n, _ in aside)):
            if not _safe(name):
                raise OutputDirError(f"{journal_path} names {name!r}; restore {directory} from version control")
        kept = {n for n, _ in aside}
        for temp, name in place:
            if not os.path.lexists(directory / temp) and name not in kept:
                with contextlib.suppress(FileNotFoundError):
                    (directory / name).unlink()  # new, not there before: goes
        for name, backup in aside:
            if os.path.lexists(directory / backup):
                os.replace(directory / backup, directory / name)
        _sync_dir(directory)
        journal_path.unlink()
    for entry in os.listdir(directory):
        if entry.startswith(_TEMP_PREFIX) and _is_regular(directory / entry):
            (directory / entry).unlink()


def _safe(name: str) -> bool:
    return bool(name) and "/" not in name and name not in (".", "..")
