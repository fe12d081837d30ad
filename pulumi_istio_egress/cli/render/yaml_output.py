"""Kubernetes objects as kubectl-ready YAML: deterministic bytes, strings every reader keeps, safe file names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ..kubeyaml_scalars import resolve_plain as _resolve_plain
from ..redaction import redact, reveal
from .objects import object_identity

_TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata", "spec")


class _Dumper(yaml.SafeDumper):
    """Block style, no anchors, and quotes for every string some YAML reader would not keep a string."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _needs_escapes(data: str) -> bool:
    # Characters a YAML reader would not keep as written in a plain, quoted or block scalar:
    # controls, NEL/LS/PS (line breaks to YAML 1.1), BOM, surrogates, U+FFFE/U+FFFF.
    return _ESCAPED.search(data) is not None


_ESCAPED = re.compile("[^\n -~\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    if _needs_escapes(data):
        style: str | None = '"'  # the only style that escapes them
    elif "\n" in data:
        style = "|"  # multi-line text (scripts, PEM blocks) reads best as a literal block
    elif _resolve_plain(data) != data or type(_resolve_plain(data)) is not str:
        style = "'"  # kubectl would read the plain text as something else (0X1F, y, 0o17, 1_000)
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _represent_str)
# PyYAML follows YAML 1.1 as it parses; kubectl's reader (go-yaml) also takes `y`/`n` as booleans
# and `1e3`, `08` or `0o17` as numbers. Registering those forms makes the dumper quote them.
_Dumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))
_Dumper.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)
_Dumper.add_implicit_resolver("tag:yaml.org,2002:int", re.compile(r"^[-+]?0[oO][0-7_]+$"), list("-+0"))


def _sorted_deep(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _sorted_deep(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_sorted_deep(v) for v in value]
    return value


def _ordered_document(manifest: Mapping[str, Any]) -> dict[str, Any]:
    first = [k for k in _TOP_LEVEL_ORDER if k in manifest]
    rest = sorted((k for k in manifest if k not in _TOP_LEVEL_ORDER), key=str)
    return {k: _sorted_deep(manifest[k]) for k in [*first, *rest]}


def to_yaml(objects: Iterable[Mapping[str, Any]], *, show_secrets: bool = False) -> str:
    """Multi-document YAML, documents in the given order, ``---`` between them.

    Keys: apiVersion, kind, metadata, spec, then the rest sorted; nested keys sorted. The text
    depends only on the data, so it is byte-identical across runs and processes. Secrets are
    written as ``[secret]`` unless ``show_secrets``.
    """
    documents = [
        yaml.dump(
            _ordered_document(reveal(manifest) if show_secrets else redact(manifest)),
            Dumper=_Dumper,
            default_flow_style=False,
            sort_keys=False,
            allow_unicode=True,
            width=1 << 30,  # never fold long strings
        )
        for manifest in objects
    ]
    return "---\n".join(documents)


_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def _file_part(text: str) -> str:
    return _UNSAFE_FILE_CHARS.sub("_", text) or "_"


MAX_FILE_NAME = 200
"""Bytes in a file name ``render --out`` writes: under every file system's 255, with room for
the temporary names it writes first."""


def object_file_name(manifest: Mapping[str, Any]) -> str:
    """``<namespace>.<kind>.<name>.yaml`` (kind lower-case); cluster-scoped objects use ``_cluster``.

    Namespaces are DNS labels and cannot contain ``_``, so ``_cluster`` never collides with one.
    A name longer than :data:`MAX_FILE_NAME` keeps its start and gets a hash of the whole name,
    so it stays unique and stable.
    """
    _, kind, namespace, name = object_identity(manifest)
    full = f"{_file_part(namespace or '_cluster')}.{_file_part(kind.lower())}.{_file_part(name)}"
    if len(full) + len(".yaml") <= MAX_FILE_NAME:
        return f"{full}.yaml"
    digest = hashlib.sha256(full.encode()).hexdigest()[:16]
    return f"{full[: MAX_FILE_NAME - len(digest) - len('-.yaml')]}-{digest}.yaml"
