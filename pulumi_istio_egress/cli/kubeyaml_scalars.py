"""Plain and tagged YAML scalars, and mapping keys, given the values go-yaml v2 gives them.

kubectl decodes YAML with sigs.k8s.io/yaml, which parses with its fork of go-yaml v2 (``goyaml.v2``:
YAML 1.1 scalars plus ``0o`` octals). PyYAML's own YAML 1.1 rules differ in ways a gate cannot
afford (``y`` is a string to PyYAML and ``true`` to kubectl, ``0o26`` a string and 22), so
:mod:`.kubeyaml` composes nodes with libyaml and resolves each scalar here:

* plain scalars: go-yaml v2 ``resolve()``: ``y/Y/yes/on/true...`` and ``n/N/no/off/false...`` are
  booleans; ``~``, ``null``, empty are null; ints as Go's ``strconv.ParseInt(s, 0, 64)`` after
  removing ``_`` (``0x1F``, ``0o26``, ``0b101``, ``0755`` octal), then ``ParseUint``, then floats
  matching go-yaml's ``yamlStyleFloat``; timestamps stay the text that was written (go-yaml v2
  decodes them into ``interface{}`` as strings); everything else is a string;
* explicit tags: ``!!str`` keeps text, ``!!binary`` is base64-decoded, ``!!int``/``!!bool``/
  ``!!float`` must resolve to that type, other tags leave the text as is;
* mapping keys become JSON strings as ``convertToJSONableObject`` does (ints in decimal, bools as
  ``true``/``false``); null, list and mapping keys are refused.

The error type of the whole reader lives here, at its lowest layer.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import struct
from typing import Any

import yaml

from ..jsontypes import printed_integer

PLAIN = "!kubeyaml-plain"  # a plain scalar without an explicit tag: go-yaml resolves it
STR = "tag:yaml.org,2002:str"
_BINARY = "tag:yaml.org,2002:binary"
MERGE = "tag:yaml.org,2002:merge"
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

def shorten(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def place_of(node: yaml.Node) -> str:
    mark = node.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}"

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
    whole = printed_integer(value)
    return value if whole is None else whole


def scalar_value(node: yaml.ScalarNode) -> Any:
    tag, text = node.tag, str(node.value)
    if tag == PLAIN:
        return resolve_plain(text)
    if tag == _BINARY:
        try:
            # Go's base64.StdEncoding ignores newlines; invalid UTF-8 becomes U+FFFD in JSON.
            data = base64.b64decode(re.sub(r"[\r\n]", "", text), validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError(f"{place_of(node)}: !!binary value contains invalid base64 data") from None
        return data.decode("utf-8", errors="replace")
    wanted = _RESOLVABLE.get(tag)
    if wanted is None:
        return text  # !!str, and tags go-yaml does not resolve, keep the text
    value = resolve_plain(text)
    got = {bool: "bool", int: "int", float: "float", str: "timestamp" if _TIMESTAMP.fullmatch(text) else "str"}
    kind = got.get(type(value), "null")
    if kind == wanted or (wanted == "float" and kind == "int"):
        return _number(float(value)) if wanted == "float" else value
    raise ManifestError(f"{place_of(node)}: cannot decode {shorten(text)} as a !!{wanted}")


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


def key_text(node: yaml.Node, value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float_key(value)
    what = "null" if value is None else "list" if isinstance(value, list) else "mapping"
    raise ManifestError(f"{place_of(node)}: a {what} cannot be a mapping key (JSON keys are strings)")
