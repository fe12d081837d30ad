"""``check --fix``: a manifest file with the pack's remediations written into it.

The core is pure: :func:`fix_text` takes a file's text and the remediated objects (by the place
kubeyaml gives them, ``document 2`` or ``document 2, items[0]``) and returns the new text.
Documents nothing remediated keep their exact text, comments included; a remediated document is
written again from what kubectl reads (our YAML reader, then render's dumper), so inside it the
comments, anchors and original scalar spellings (``yes``, ``0x1F``) are lost, and only what the
remediation changed differs in meaning. Key order and the documents' order are kept. The result
is read back and compared with the remediated objects before it is returned.

The shells: :func:`remediate_file` asks a configured pack for the remediations (pulumi-policy's
Remediate call, as the Pulumi CLI makes it), and :func:`write_atomically` writes the one file named.
"""

from __future__ import annotations

import copy
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ..findings import Manifest
from ..jsontypes import whole_number
from .kubeyaml import load_documents, read

if TYPE_CHECKING:
    from .pack_client import PolicyPackProcess, Resource

REMEDIATE = "remediate"
_DELETED = object()
_ITEM = re.compile(r"items\[(\d+)\]")


class FixError(ValueError):
    """The fixed text would not read back as the remediated objects (a bug, never written)."""


def _same(a: Any, b: Any) -> bool:
    """Equal as kubectl's JSON: ``443`` and ``443.0`` (numbers travel as doubles) are, ``True`` and ``1`` not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _plain(value: Any) -> Any:
    """A value that came back over the wire as the file would hold it: whole numbers as ints."""
    if isinstance(value, float) and (whole := whole_number(value)) is not None:
        return whole
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def changes(before: Any, after: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """``(key path, new value)`` for what differs between two objects, mappings compared key by key
    (a removed key's value is a private marker); anything else is replaced whole."""
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                yield (*path, key), _DELETED
        for key, value in after.items():
            if key not in before:
                yield (*path, key), _plain(value)
            elif not _same(before[key], value):
                yield from changes(before[key], value, (*path, key))
    else:
        yield path, _plain(after)


def _apply(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target[key]
    if value is _DELETED:
        del target[path[-1]]
    else:
        target[path[-1]] = value


def _item(document: Any, place: str) -> dict[str, Any]:
    """The object at a kubeyaml place inside its document (``items[i]`` steps, as ``expand`` names them)."""
    node = document
    for index in _ITEM.findall(place.partition(",")[2]):
        node = node["items"][int(index)]
    if not isinstance(node, dict):
        raise FixError(f"{place}: not an object")
    return node


def _spans(text: str) -> list[tuple[int, int] | None]:
    """``(start, end)`` of each document's root node in ``text``, in document order."""
    loader = yaml.CSafeLoader(text) if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader(text)
    spans: list[tuple[int, int] | None] = []  # numbered as kubeyaml.load_documents numbers them
    try:
        while loader.check_node():
            node = loader.get_node()
            spans.append(None if node is None else (node.start_mark.index, node.end_mark.index))
    finally:
        loader.dispose()
    return spans


def _dump(document: Any) -> str:
    from .render.yaml_output import _Dumper  # kubectl-safe quoting, shared with `render`

    return yaml.dump(document, Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                     allow_unicode=True, width=1 << 30)


def fix_text(text: str, remediated: Mapping[str, Manifest]) -> str:
    """``text`` with each object named by its place replaced by its remediated form (see the module)."""
    documents = dict(load_documents(text))
    items = {item.place: item.manifest for item in read(text)}
    unknown = sorted(set(remediated) - set(items))
    if unknown:
        raise FixError(f"no object at {', '.join(unknown)}")
    touched: dict[int, Any] = {}
    for place, after in remediated.items():
        number = int(place.split(",")[0].removeprefix("document "))
        document = touched.setdefault(number, copy.deepcopy(documents[number]))
        target = _item(document, place)
        for path, value in changes(items[place], after):
            _apply(target, path, value)
    spans = _spans(text)
    out, position = [], 0
    for number, span in enumerate(spans, 1):
        if number not in touched or span is None:
            continue
        start, end = span
        dumped = _dump(touched[number])
        out += [text[position:start], dumped if text[start:end].endswith("\n") else dumped.rstrip("\n")]
        position = end
    fixed = "".join([*out, text[position:]])
    _verify(fixed, items, remediated)
    return fixed


def _verify(fixed: str, items: Mapping[str, Manifest], remediated: Mapping[str, Manifest]) -> None:
    again = {item.place: item.manifest for item in read(fixed)}
    expected = {place: _plain(remediated.get(place, manifest)) for place, manifest in items.items()}
    wrong = [place for place in expected if place not in again or not _same(again[place], expected[place])]
    if wrong or again.keys() != expected.keys():
        where = ", ".join(wrong) or "the end"
        raise FixError(f"the fixed YAML would not read back as the remediated objects at {where}")


def fixed_file(pack: PolicyPackProcess, path: str, resources: Sequence[Resource]) -> str:
    """The text of ``path`` with the configured pack's remediations written in (``resources``: its
    objects as ``check`` loaded them, in order)."""
    text = Path(path).read_text(encoding="utf-8")
    return fix_text(text, remediate_file(pack, text, resources))


def remediate_file(pack: PolicyPackProcess, text: str, resources: Sequence[Resource]) -> dict[str, Manifest]:
    """``{place: remediated manifest}`` for the objects of one file (``resources``, as ``check`` loaded
    them from ``text``, in order) that the configured pack's remediations change."""
    items = read(text)
    if len(items) != len(resources):
        raise FixError(f"{len(resources)} objects were loaded but the file holds {len(items)}")
    out: dict[str, Manifest] = {}
    for item, resource in zip(items, resources, strict=True):
        fixed, _ = pack.remediate(resource)
        if not _same(fixed.props, resource.props):
            out[item.place] = fixed.props
    return out


def judged_config(config: Mapping[str, Mapping[str, Any]], *, remediate: bool) -> dict[str, dict[str, Any]]:
    """The reconciled config to judge with. A YAML file is applied as written (kubectl remediates
    nothing), so without ``--fix`` a policy at ``remediate`` judges it at ``mandatory``: a fixable
    finding is a violation until ``--fix`` writes the fix. pulumi-policy reads ``remediate`` as
    ``mandatory`` in Analyze anyway; this only stops the in-memory Remediate step."""
    return {name: {**entry, "enforcementLevel": "mandatory"}
            if not remediate and entry.get("enforcementLevel") == REMEDIATE else dict(entry)
            for name, entry in config.items()}


def write_atomically(path: Path, text: str) -> None:
    """``text`` to ``path`` and nothing else: a temporary file beside it (created exclusively), synced,
    then renamed over it, so a reader never sees half a file and a symlink at ``path`` is replaced,
    not written through. An existing file keeps its permission bits."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o644 & ~_umask()
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with _quiet():
            os.unlink(temporary)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _quiet() -> Any:
    import contextlib

    return contextlib.suppress(OSError)
