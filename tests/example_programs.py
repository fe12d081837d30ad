"""The component declarations of the multi-language examples, read from the files as written.

Only literal arguments are understood (strings, numbers, booleans, null, arrays, objects); anything
else, such as a variable or an interpolation, is an error rather than a silently skipped input.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Declared:
    """One component declared by an example program, with its inputs under their schema names."""

    where: str
    type: str
    """A YAML type token, or for TypeScript the SDK class name."""
    name: str
    inputs: dict[str, Any]


def yaml_declarations(project_file: Path) -> tuple[dict[str, Any], list[Declared]]:
    """The parsed Pulumi.yaml and its resources."""
    project = yaml.safe_load(project_file.read_text(encoding="utf-8"))
    declared = []
    for name, resource in (project.get("resources") or {}).items():
        inputs = resource.get("properties") or {}
        _reject_interpolation(inputs, f"{project_file}: {name}")
        declared.append(Declared(f"{project_file}: {name}", resource["type"], name, inputs))
    return project, declared


def typescript_declarations(source_file: Path, module: str) -> list[Declared]:
    """Every ``new <alias>.<Class>("name", {...})`` where ``<alias>`` imports ``module``."""
    text = source_file.read_text(encoding="utf-8")
    alias = re.search(rf'import \* as (\w+) from "{re.escape(module)}";', text)
    if alias is None:
        raise ValueError(f'{source_file}: no `import * as <alias> from "{module}"`')
    declared = []
    for call in re.finditer(rf"new {alias.group(1)}\.(\w+)\(", text):
        where = f"{source_file}:{text.count(chr(10), 0, call.start()) + 1}"
        reader = _LiteralReader(text, call.end(), where)
        name = reader.value()
        reader.expect(",")
        inputs = reader.value()
        reader.skip(",")
        reader.expect(")")
        if not isinstance(name, str) or not isinstance(inputs, dict):
            raise ValueError(f"{where}: expected a name string and an object literal of inputs")
        declared.append(Declared(where, call.group(1), name, inputs))
    return declared


def _reject_interpolation(value: Any, where: str) -> None:
    if isinstance(value, str) and "${" in value:
        raise ValueError(f"{where}: {value!r} is an interpolation; only literal inputs are supported")
    if isinstance(value, dict):
        for item in value.values():
            _reject_interpolation(item, where)
    if isinstance(value, list):
        for item in value:
            _reject_interpolation(item, where)


_TOKEN = re.compile(
    r"""
      (?P<skip>\s+|//[^\n]*|/\*.*?\*/)
    | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<word>[A-Za-z_$][\w$]*)
    | (?P<punct>[{}\[\]:,()])
    """,
    re.VERBOSE | re.DOTALL,
)
_WORDS = {"true": True, "false": False, "null": None}


class _LiteralReader:
    """Reads JavaScript literals from ``text`` starting at ``pos``."""

    def __init__(self, text: str, pos: int, where: str) -> None:
        self.text, self.pos, self.where = text, pos, where

    def _peek(self) -> tuple[str, str]:
        while True:
            match = _TOKEN.match(self.text, self.pos)
            if match is None:
                snippet = self.text[self.pos : self.pos + 20]
                raise ValueError(f"{self.where}: only literal arguments are supported, found {snippet!r}")
            if match.lastgroup != "skip":
                assert match.lastgroup is not None
                return match.lastgroup, match.group()
            self.pos = match.end()

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        self.pos += len(token[1])
        return token

    def skip(self, punct: str) -> bool:
        if self._peek() == ("punct", punct):
            self._next()
            return True
        return False

    def expect(self, punct: str) -> None:
        kind, text = self._next()
        if (kind, text) != ("punct", punct):
            raise ValueError(f"{self.where}: expected {punct!r}, found {text!r}")

    def value(self) -> Any:
        kind, text = self._next()
        if kind == "string":
            return ast.literal_eval(text)
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "word" and text in _WORDS:
            return _WORDS[text]
        if (kind, text) == ("punct", "["):
            items = []
            while not self.skip("]"):
                items.append(self.value())
                if not self.skip(","):
                    self.expect("]")
                    break
            return items
        if (kind, text) == ("punct", "{"):
            fields = {}
            while not self.skip("}"):
                key_kind, key = self._next()
                if key_kind not in ("word", "string"):
                    raise ValueError(f"{self.where}: expected a property name, found {key!r}")
                self.expect(":")
                fields[ast.literal_eval(key) if key_kind == "string" else key] = self.value()
                if not self.skip(","):
                    self.expect("}")
                    break
            return fields
        raise ValueError(f"{self.where}: only literal arguments are supported, found {text!r}")
