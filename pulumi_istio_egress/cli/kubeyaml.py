"""Read manifest files the way ``kubectl apply -f`` reads them, so ``check`` judges what would be applied.

kubectl turns each YAML document into JSON with sigs.k8s.io/yaml, which parses with its fork of
go-yaml v2 (``goyaml.v2``: YAML 1.1 scalars plus ``0o`` octals), then expands lists as the
cli-runtime resource builder does. PyYAML's own YAML 1.1 rules differ in ways a gate cannot
afford (``y`` is a string to PyYAML and ``true`` to kubectl, ``0o26`` a string and 22), so this
module uses libyaml only to *compose* nodes (fast, in C) and gives every node the value go-yaml
would give it:

* plain scalars: go-yaml v2 ``resolve()``: ``y/Y/yes/on/true...`` and ``n/N/no/off/false...`` are
  booleans; ``~``, ``null``, empty are null; ints as Go's ``strconv.ParseInt(s, 0, 64)`` after
  removing ``_`` (``0x1F``, ``0o26``, ``0b101``, ``0755`` octal), then ``ParseUint``, then floats
  matching go-yaml's ``yamlStyleFloat``; timestamps stay the text that was written (go-yaml v2
  decodes them into ``interface{}`` as strings); everything else is a string;
* explicit tags: ``!!str`` keeps text, ``!!binary`` is base64-decoded, ``!!int``/``!!bool``/
  ``!!float`` must resolve to that type, other tags leave the text as is;
* merge keys ``<<`` write into the mapping where they stand (go-yaml v2 ``decoder.merge``), so a
  later key wins over an earlier one either way;
* mapping keys become JSON strings as ``convertToJSONableObject`` does (ints in decimal, bools as
  ``true``/``false``); null, list and mapping keys are refused;
* NaN and infinities are refused: Go's JSON encoder cannot write them, so kubectl fails too;
* excessive aliasing is refused with go-yaml v2's own ratio rule (``decoder.unmarshal``).

Beyond that, checks that the API server would make before anything is stored: an object's JSON
past the request body limit, ``metadata.name``/``namespace`` and label keys and values past
their lengths, and (in Istio objects) hosts longer than Istio's 255 characters, so no rule ever
sees one. Nesting deeper
than :data:`MAX_DEPTH` is refused too (kubectl would send it; the rules here are recursive, and a
refusal exits 2 rather than passing). Every step is linear in the size of the input.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml

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

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""kube-apiserver's default limit on a request body (``MaxRequestBodyBytes``, 3 MiB)."""
MAX_DEPTH = 100
"""Deepest nesting of mappings and lists accepted (Istio objects need about 15)."""
MAX_NAME = 253  # apimachinery ValidateObjectMeta: names are DNS subdomains (custom resources too)
MAX_NAMESPACE = 63  # namespaces are DNS labels
MAX_LABEL_VALUE = 63  # apimachinery validation.IsValidLabelValue
MAX_LABEL_PREFIX = 253  # apimachinery validation.IsQualifiedName: `prefix/name`, prefix a DNS subdomain
MAX_LABEL_NAME = 63
MAX_HOST = 255  # Istio pkg/config/validation/agent checkDNS1123Preconditions: "domain name too long (max 255)"
_ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/")

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # C parser and composer when built in

_PLAIN = "!kubeyaml-plain"  # a plain scalar without an explicit tag: go-yaml resolves it
_STR = "tag:yaml.org,2002:str"
_BINARY = "tag:yaml.org,2002:binary"
_MERGE = "tag:yaml.org,2002:merge"
_RESOLVABLE = {  # go-yaml v2 resolvableTag: explicit tags that still go through resolve()
    "tag:yaml.org,2002:bool": "bool",
    "tag:yaml.org,2002:int": "int",
    "tag:yaml.org,2002:float": "float",
    "tag:yaml.org,2002:timestamp": "timestamp",
}

# go-yaml v2 resolveMap (the 'M' hints and the '.' floats).
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "true", "True", "TRUE"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "off", "Off", "OFF", "false", "False", "FALSE"), False),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_DOT_FLOAT = re.compile(r"\.[0-9]+([eE][-+]?[0-9]+)?")  # what strconv.ParseFloat takes after a '.'
_GO_INT = re.compile(r"([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([Tt ].*)?")
_INT64 = (-(1 << 63), (1 << 63) - 1)
_UINT64_MAX = (1 << 64) - 1


class ManifestError(ValueError):
    """Input kubectl would refuse (or this reader refuses), as one line: ``file: place: problem``."""


@dataclass(frozen=True)
class ManifestItem:
    """One object to apply, with where it came from (``document 2``, ``document 2, items[0]``)."""

    manifest: dict[str, Any]
    place: str


def _shorten(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _place(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"


class _Composer(_Loader):  # type: ignore[misc]
    """libyaml composes; resolution of plain scalars is left to :func:`_scalar`."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> str:
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _STR
        result: str = super().resolve(kind, value, implicit)
        return result


def _go_int(text: str) -> int | None:
    """``strconv.ParseInt(text, 0, 64)``, falling back to ``ParseUint``; None when neither parses."""
    match = _GO_INT.fullmatch(text) if len(text) <= 70 else None  # 64 binary digits, prefix and sign
    if match is None:
        return None
    sign, digits = match.groups()
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "xXoObB":
        value = int(digits[2:], {"x": 16, "o": 8, "b": 2}[digits[1].lower()])
    elif digits[0] == "0" and len(digits) > 1:
        value = int(digits[1:], 8)  # Go's base-0 rule: a leading 0 means octal
    else:
        value = int(digits)
    value = -value if sign == "-" else value
    if _INT64[0] <= value <= _INT64[1] or (sign != "-" and value <= _UINT64_MAX):
        return value
    return None


def resolve_plain(text: str) -> Any:
    """go-yaml v2 ``resolve("", text)``: the value of an untagged plain scalar."""
    if text in _WORDS:
        return _WORDS[text]
    first = text[0]
    if first == ".":
        return _finite(text, text) if _DOT_FLOAT.fullmatch(text) else text
    if not (first.isdigit() and first.isascii()) and first not in "+-":
        return text
    if _TIMESTAMP.fullmatch(text):
        return text  # go-yaml v2 hands timestamps to interface{} as the written text
    plain = text.replace("_", "")
    number = _go_int(plain)
    if number is not None:
        return number
    if _YAML_STYLE_FLOAT.fullmatch(plain):
        return _finite(plain, text)
    return text


def _finite(number: str, text: str) -> Any:
    # strconv.ParseFloat reports out-of-range values as an error, so go-yaml keeps the text.
    value = float(number)
    return text if math.isinf(value) else _number(value)


def _number(value: float) -> float | int:
    # What reaches the API server is JSON: Go writes an integral float64 below 1e21 without a
    # fraction (`1e3` -> 1000), so readers of that JSON see an integer.
    return int(value) if value.is_integer() and abs(value) < 1e21 else value


def _scalar(node: yaml.ScalarNode) -> Any:
    tag, text = node.tag, str(node.value)
    if tag == _PLAIN:
        return resolve_plain(text)
    if tag == _BINARY:
        try:
            # Go's base64.StdEncoding ignores newlines; invalid UTF-8 becomes U+FFFD in JSON.
            data = base64.b64decode(re.sub(r"[\r\n]", "", text), validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError(f"{_place(node)}: !!binary value contains invalid base64 data") from None
        return data.decode("utf-8", errors="replace")
    wanted = _RESOLVABLE.get(tag)
    if wanted is None:
        return text  # !!str, and tags go-yaml does not resolve, keep the text
    value = resolve_plain(text)
    got = {bool: "bool", int: "int", float: "float", str: "timestamp" if _TIMESTAMP.fullmatch(text) else "str"}
    kind = got.get(type(value), "null")
    if kind == wanted or (wanted == "float" and kind == "int"):
        return _number(float(value)) if wanted == "float" else value
    raise ManifestError(f"{_place(node)}: cannot decode {_shorten(text)} as a !!{wanted}")


def _go_float_key(value: float) -> str:
    """``strconv.FormatFloat(value, 'g', -1, 32)``, the text a float key becomes."""
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):  # the shortest text that reads back as the same float32
        text = f"{single:.{digits}e}" if digits else ""
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            break
    mantissa, _, exp_text = text.partition("e")
    exponent = int(exp_text)
    mantissa = mantissa.rstrip("0").rstrip(".")
    if exponent < -4 or exponent >= 6:  # Go uses %e for shortest 'g' outside this range
        return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return f"{float(f'{single:.{digits}e}'):f}".rstrip("0").rstrip(".")


def _key(node: yaml.Node, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float_key(value)
    what = "null" if value is None else "list" if isinstance(value, list) else "mapping"
    raise ManifestError(f"{_place(node)}: a {what} cannot be a mapping key (JSON keys are strings)")


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
            raise ManifestError(f"{_place(node)}: document contains excessive aliasing")

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
                raise ManifestError(f"{_place(node)}: anchor value contains itself")
            if node_id in self.seen:
                self._count(node, in_alias)  # the alias node itself
                in_alias = True
            self.seen.add(node_id)
            self._count(node, in_alias)
            if depth > MAX_DEPTH:
                raise ManifestError(f"{_place(node)}: nested deeper than {MAX_DEPTH} levels")
            if isinstance(node, yaml.ScalarNode):
                sink.append(_scalar(node))
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
        (key.tag == _PLAIN and key.value == "<<") or key.tag == _MERGE
    )


def _merge_sources(value: yaml.Node) -> list[yaml.Node]:
    sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
    for source in sources:
        if not isinstance(source, yaml.MappingNode):
            raise ManifestError(f"{_place(source)}: map merge requires a mapping or a list of mappings")
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
            out[_key(key, parts[taken])] = parts[taken + 1]
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
        yield ManifestItem(_checked(_object(document, place), place), place)
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
        yield ManifestItem(_checked(_object(item, where), where), where)


def _checked(manifest: dict[str, Any], place: str, quote: Callable[[str], str] = _shorten) -> dict[str, Any]:
    """Refuse what the API server refuses before it looks at the object's kind; ``quote`` shows values."""
    try:
        size = len(json.dumps(manifest, allow_nan=False, separators=(",", ":")))
    except ValueError:
        raise ManifestError(
            f"{place}: it holds a NaN or infinite number, which JSON (and so kubectl) cannot carry"
        ) from None
    if size > MAX_REQUEST_BYTES:
        raise ManifestError(
            f"{place}: the object is {size} bytes as JSON; the API server's request limit is {MAX_REQUEST_BYTES}"
        )
    metadata = manifest.get("metadata")
    if isinstance(metadata, dict):
        for key, limit in (("name", MAX_NAME), ("namespace", MAX_NAMESPACE)):
            value = metadata.get(key)
            if isinstance(value, str) and len(value) > limit:
                raise ManifestError(
                    f"{place}: metadata.{key} is {len(value)} characters long; Kubernetes allows {limit}"
                    f" (got {quote(value)})"
                )
    if isinstance(metadata, dict) and isinstance(metadata.get("labels"), dict):
        for key, value in metadata["labels"].items():
            prefix, _, name = key.rpartition("/")
            for what, text, limit in (
                (f"the label key {quote(key)}'s prefix", prefix, MAX_LABEL_PREFIX),
                (f"the label key {quote(key)}'s name", name, MAX_LABEL_NAME),
                (f"the value of label {quote(key)}", value if isinstance(value, str) else "", MAX_LABEL_VALUE),
            ):
                if len(text) > limit:
                    raise ManifestError(
                        f"{place}: metadata.labels: {what} is {len(text)} characters long; Kubernetes allows {limit}"
                    )
    if str(manifest.get("apiVersion")).startswith(_ISTIO_GROUPS):
        for path, host in _hosts(manifest.get("spec")):
            if len(host) > MAX_HOST:
                raise ManifestError(
                    f"{place}: {path} is a host of {len(host)} characters; Istio allows {MAX_HOST}"
                    f" (got {quote(host)})"
                )
    return manifest


def _hosts(spec: Any) -> Iterator[tuple[str, str]]:
    """``(path, host)`` of every ``host: x`` and ``hosts: [x]`` string under ``spec``, any depth, iteratively.

    Covers ServiceEntry/VirtualService ``hosts``, DestinationRule ``host``, route destinations, Gateway
    and Sidecar ``namespace/host`` entries (the host is the part after the ``/``).
    """
    stack: list[tuple[str, Any]] = [("spec", spec)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "host" and isinstance(item, str):
                    yield f"{path}.host", item
                elif key == "hosts" and isinstance(item, list):
                    for index, host in enumerate(item):
                        if isinstance(host, str):
                            yield f"{path}.hosts[{index}]", host.rpartition("/")[2]
                else:
                    stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def limit_problem(manifest: dict[str, Any], place: str) -> str | None:
    """What :func:`read` would refuse in an object that did not come from YAML (a program's), else None.

    Lengths are those of the secret values too (the pack sees them); the message never quotes one.
    """
    from .redaction import REDACTED, reveal, scrub, secret_texts

    secrets = secret_texts([manifest])
    try:
        # With secrets inside, no value is quoted: a shortened quote would escape the scrubbing.
        _checked(reveal(manifest), place, quote=(lambda _text: repr(REDACTED)) if secrets else _shorten)
    except ManifestError as exc:
        return scrub(str(exc), secrets)
    return None


def read(text: str) -> list[ManifestItem]:
    """Every object kubectl would apply from a file's text, in order; :class:`ManifestError` otherwise."""
    return [item for number, document in load_documents(text) for item in expand(number, document)]
