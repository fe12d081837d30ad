"""Read manifest files the way ``kubectl apply -f`` reads them, so ``check`` judges what would be applied.

kubectl turns each YAML document into JSON with sigs.k8s.io/yaml, which parses with its fork of
go-yaml v2, then expands lists as the cli-runtime resource builder does. This module uses libyaml
only to *compose* nodes (fast, in C) and gives every node the value go-yaml would give it (scalars
and keys in :mod:`.kubeyaml_scalars`):

* merge keys ``<<`` write into the mapping where they stand (go-yaml v2 ``decoder.merge``), so a
  later key wins over an earlier one either way;
* excessive aliasing is refused with go-yaml v2's own ratio rule (``decoder.unmarshal``).

Beyond that, the checks the API server would make before anything is stored
(:mod:`.kubeyaml_limits`), so no rule ever sees an object it would refuse. Nesting deeper than
:data:`MAX_DEPTH` is refused too (kubectl would send it; the rules here are recursive, and a
refusal exits 2 rather than passing). Every step is linear in the size of the input.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from .kubeyaml_limits import MAX_REQUEST_BYTES, checked, limit_problem
from .kubeyaml_scalars import MERGE, PLAIN, STR, ManifestError, key_text, place_of, scalar_value

__all__ = [
    "MAX_DEPTH",
    "MAX_REQUEST_BYTES",
    "ManifestError",
    "ManifestItem",
    "expand",
    "limit_problem",
    "load_documents",
    "read",
]

MAX_DEPTH = 100
"""Deepest nesting of mappings and lists accepted (Istio objects need about 15)."""

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C parser and composer when built in


@dataclass(frozen=True)
class ManifestItem:
    """One object to apply, with where it came from (``document 2``, ``document 2, items[0]``)."""

    manifest: dict[str, Any]
    place: str


class _Composer(_Loader):  # type: ignore[misc]
    """libyaml composes; resolution of plain scalars is left to :func:`.kubeyaml_scalars.scalar_value`."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return PLAIN if implicit[0] else STR
        result: str = super().resolve(kind, value, implicit)
        return result


_VISIT, _BUILD = 0, 1


class _Converter:
    """Node graph -> JSON-like values, iteratively (no recursion limit), counting as go-yaml does."""

    def __init__(self) -> None:
        self.decoded = 0
        self.aliased = 0
        self.seen: set[int] = set()  # nodes decoded once already: a later visit goes through an alias

    def _count(self, node: yaml.Node, in_alias: bool) -> None:
        # go-yaml v2 decoder.unmarshal: refuse when aliases make up too much of what was decoded.
        self.decoded += 1
        if in_alias:
            self.aliased += 1
        if (
            self.aliased > 100
            and self.decoded > 1000
            and self.aliased / self.decoded > _allowed_alias_ratio(self.decoded)
        ):
            raise ManifestError(f"{place_of(node)}: document contains excessive aliasing")

    def convert(self, root: yaml.Node) -> Any:
        out: list[Any] = []
        # Depth-first with an explicit stack: children are pushed in reverse so they complete in
        # document order, each appending its value to its parent's parts; _BUILD assembles them.
        stack: list[tuple[Any, ...]] = [(_VISIT, root, 0, False, frozenset(), out)]
        while stack:
            entry = stack.pop()
            if entry[0] == _BUILD:
                _, node, built, sink = entry
                sink.append(_build(node, built))
                continue
            _, node, depth, in_alias, path, sink = entry
            node_id = id(node)
            if node_id in path:
                raise ManifestError(f"{place_of(node)}: anchor value contains itself")
            if node_id in self.seen:
                self._count(node, in_alias)  # the alias node itself
                in_alias = True
            self.seen.add(node_id)
            self._count(node, in_alias)
            if depth > MAX_DEPTH:
                raise ManifestError(f"{place_of(node)}: nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, yaml.ScalarNode):
                sink.append(scalar_value(node))
                continue
            parts: list[Any] = []
            stack.append((_BUILD, node, parts, sink))
            inner = path | {node_id}
            for child, child_depth in reversed(list(_children(node, depth))):
                stack.append((_VISIT, child, child_depth, in_alias, inner, parts))
        return out[0]


def _is_merge(key: yaml.Node) -> bool:
    # go-yaml v2 isMerge: a plain `<<` or an explicit !!merge tag.
    return isinstance(key, yaml.ScalarNode) and (
        (key.tag == PLAIN and key.value == "<<") or key.tag == MERGE
    )


def _merge_sources(value: yaml.Node) -> list[yaml.Node]:
    sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
    for source in sources:
        if not isinstance(source, yaml.MappingNode):
            raise ManifestError(f"{place_of(source)}: map merge requires a mapping or a list of mappings")
    return list(sources)


def _children(node: yaml.Node, depth: int) -> Iterator[tuple[yaml.Node, int]]:
    if isinstance(node, yaml.SequenceNode):
        for child in node.value:
            yield child, depth + 1
        return
    for key, value in node.value:
        if _is_merge(key):
            for source in _merge_sources(value):
                yield source, depth  # merged keys sit at this mapping's level
        else:
            yield key, depth + 1
            yield value, depth + 1


def _build(node: yaml.Node, parts: list[Any]) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return parts
    out: dict[str, Any] = {}
    taken = 0
    for key, value in node.value:
        if _is_merge(key):
            count = len(_merge_sources(value))
            # go-yaml v2 decoder.merge steps backwards through a list, so earlier mappings win;
            # whatever stands later in this mapping overwrites merged keys, and vice versa.
            for merged in reversed(parts[taken : taken + count]):
                out.update(merged)
            taken += count
        else:
            out[key_text(key, parts[taken])] = parts[taken + 1]
            taken += 2
    return out


def _allowed_alias_ratio(decoded: int) -> float:
    # go-yaml v2 allowedAliasRatio: 99% for small documents, down to 10% for huge ones.
    low, high = 400_000, 4_000_000
    if decoded <= low:
        return 0.99
    if decoded >= high:
        return 0.10
    return 0.99 - 0.89 * ((decoded - low) / (high - low))


def load_documents(text: str) -> Iterator[tuple[int, Any]]:
    """``(document number, value)`` for every non-empty document, values as kubectl's JSON."""
    loader = _Composer(text)
    number = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            number += 1
            if node is None:
                continue
            value = _Converter().convert(node)
            if value is not None:  # kubectl skips documents that are null
                yield number, value
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise ManifestError(f"{where}invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"invalid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()


def _object(value: Any, place: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManifestError(f"{place}: not a Kubernetes object but a {_type_name(value)}")
    kind, api_version = value.get("kind"), value.get("apiVersion")
    if not (isinstance(kind, str) and kind and isinstance(api_version, str) and api_version):
        raise ManifestError(f"{place}: not a Kubernetes object (it needs a string apiVersion and kind)")
    return value


def _type_name(value: Any) -> str:
    return {list: "list", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(value), "value")


def expand(number: int, document: Any) -> Iterator[ManifestItem]:
    """The objects kubectl applies for one document (k8s.io/cli-runtime ``FlattenListVisitor``).

    A document with an ``items`` key is a list whatever its kind (apimachinery's unstructured
    ``decode`` looks only for the key): the document itself is not applied, each item is, and an
    item without kind *and* apiVersion takes the list's apiVersion and its kind minus ``List``
    (``decodeToList``). Items that are lists themselves (an ``items`` list) are expanded in
    turn, without that inheritance (``Unstructured.EachListItem``).
    """
    place = f"document {number}"
    if not isinstance(document, dict) or "items" not in document:
        yield ManifestItem(checked(_object(document, place), place), place)
        return
    top = _object(document, place)
    items = top["items"]
    if items is None:
        return
    if not isinstance(items, list):
        raise ManifestError(f"{place}: items: a list's items must be a list, not a {_type_name(items)}")
    queue: list[tuple[Any, str]] = []
    for index, item in enumerate(items):
        where = f"{place}, items[{index}]"
        if not isinstance(item, dict):
            raise ManifestError(f"{where}: not a Kubernetes object but a {_type_name(item)}")
        if not item.get("kind") and not item.get("apiVersion"):
            item = {**item, "kind": top["kind"].removesuffix("List"), "apiVersion": top["apiVersion"]}
        queue.append((item, where))
    # Breadth first, as FlattenListVisitor appends nested lists' items to the end of its queue.
    position = 0
    while position < len(queue):
        item, where = queue[position]
        position += 1
        nested = item.get("items")
        if isinstance(nested, list):
            for index, child in enumerate(nested):
                if not isinstance(child, dict):
                    raise ManifestError(f"{where}.items[{index}]: items member is not an object")
                queue.append((child, f"{where}.items[{index}]"))
            continue
        yield ManifestItem(checked(_object(item, where), where), where)

def read(text: str) -> list[ManifestItem]:
    """Every object kubectl would apply from a file's text, in order; :class:`ManifestError` otherwise."""
    return [item for number, document in load_documents(text) for item in expand(number, document)]
