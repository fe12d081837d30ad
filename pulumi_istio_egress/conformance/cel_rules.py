"""``x-kubernetes-validations`` rules compiled with the ``cel`` package (shared by source text).

Calls to CEL built-ins that differ from cel-go (``duration``, ``size``) are renamed to the Go-faithful
functions of :mod:`.cel_functions`, and each rule records which parts of ``self`` it reads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..extras import requires_extra

with requires_extra("Istio CRD validation (the istio-valid CRD layer)"):
    import cel

from .cel_functions import DURATION_FN, FUNCTIONS, SIZE_FN
from .durations import native_duration_ok
from .messages import join_path

_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*)"
    r"|(?P<literal>(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|\"))"
    r"|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<number>[0-9][A-Za-z0-9_]*)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


def _tokens(source: str) -> list[tuple[str, str]]:
    """Split CEL source into (kind, text) tokens; enough lexing to tell names from strings."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(source):
        m = _TOKEN.match(source, i)
        assert m is not None and m.lastgroup is not None  # `other` matches any character
        kind, j = m.lastgroup, m.end()
        if kind == "literal":
            prefix = m.group(0)
            quote = prefix.lstrip("rRbB")
            raw = "r" in prefix[: len(prefix) - len(quote)].lower()
            while j < len(source) and not source.startswith(quote, j):
                j += 2 if source[j] == "\\" and not raw else 1
            j = min(j + len(quote), len(source))
        out.append((kind, source[i:j]))
        i = j
    return out


def _rename_calls(source: str, names: Mapping[str, str], native_ok: Callable[[str], bool] | None = None) -> str:
    """Rename calls ``name(`` outside string literals and comments.

    Lets Go-faithful Python versions stand in for cel built-ins that differ from cel-go
    (``duration`` syntax, ``size`` of strings): the cel package does not let a registered
    function override a built-in. A call on one plain literal that ``native_ok`` accepts stays
    native (``duration('1ms')``): calling back into Python costs microseconds.
    """
    tokens = _tokens(source)
    significant = [i for i, (k, _) in enumerate(tokens) if k not in ("space", "comment")]
    position = {index: n for n, index in enumerate(significant)}
    out: list[str] = []
    for index, (kind, text) in enumerate(tokens):
        if kind == "ident" and text in names:
            n = position[index]
            following = [tokens[i] for i in significant[n + 1 : n + 4]]
            if following[:1] == [("other", "(")]:
                literal = following[1][1] if len(following) == 3 and following[2] == ("other", ")") else ""
                plain = following[1:2] == [("literal", literal)] and literal[:1] in "'\"" and "\\" not in literal
                if not (plain and native_ok is not None and native_ok(literal[1:-1])):
                    text = names[text]
        out.append(text)
    return "".join(out)


_ITERATING = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True, slots=True)
class SelfUse:
    """Which parts of ``self`` a rule can read, so only those are converted for CEL.

    Converting values into the cel package costs microseconds per string, and most rules read a
    few fields of a big object. ``fields``: fields read as ``self.f``; ``all_keys``: the keys are
    iterated or counted (values unused); ``element_fields``: for a list, the fields read from its
    elements as ``v.f`` inside ``self.all(v, ...)`` and friends (None: elements needed whole).
    """

    fields: frozenset[str]
    all_keys: bool
    element_fields: frozenset[str] | None


def _self_use(source: str) -> SelfUse | None:
    """Conservative lexical analysis; None when the rule may read ``self`` as a whole."""
    tokens = [(k, t) for k, t in _tokens(source) if k not in ("space", "comment")]

    def at(i: int) -> str:
        return tokens[i][1] if 0 <= i < len(tokens) else ""

    fields: set[str] = set()
    all_keys = False
    bound: set[str] = set()
    for i, (kind, text) in enumerate(tokens):
        if kind != "ident" or text != "self" or at(i - 1) == ".":
            continue
        if at(i + 1) != "." or tokens[i + 2 : i + 3][:1] != [("ident", at(i + 2))]:
            return None
        name = at(i + 2)
        if at(i + 3) != "(":
            fields.add(name)
        elif name == "size" and at(i + 4) == ")":
            all_keys = True
        elif name in _ITERATING and tokens[i + 4 : i + 5] == [("ident", at(i + 4))] and at(i + 5) == ",":
            if tokens[i + 6 : i + 7] == [("ident", at(i + 6))] and at(i + 7) == ",":
                return None  # two-variable form: the second variable reads the values
            all_keys = True
            bound.add(at(i + 4))
        else:
            return None
    element_fields: set[str] | None = set()
    for i, (kind, text) in enumerate(tokens):
        if kind != "ident" or text not in bound or at(i - 1) == "." or element_fields is None:
            continue
        if at(i + 1) == "," and at(i - 1) == "(" and at(i - 2) in _ITERATING:
            continue  # the binding itself
        if at(i + 1) == "." and tokens[i + 2 : i + 3] == [("ident", at(i + 2))] and at(i + 3) != "(":
            element_fields.add(at(i + 2))
        else:
            element_fields = None
    return SelfUse(frozenset(fields), all_keys, None if element_fields is None else frozenset(element_fields))


def merge_use(uses: Iterable[SelfUse | None]) -> SelfUse | None:
    fields: set[str] = set()
    all_keys = False
    elements: set[str] | None = set()
    for use in uses:
        if use is None:
            return None
        fields |= use.fields
        all_keys = all_keys or use.all_keys
        if elements is not None and use.element_fields is not None:
            elements |= use.element_fields
        else:
            elements = None
    return SelfUse(frozenset(fields), all_keys, None if elements is None else frozenset(elements))


@dataclass(frozen=True, slots=True)
class Program:
    """One compiled CEL expression (shared across CRDs by source text)."""

    source: str
    program: Any  # cel.Program, or None when it failed to compile
    unicode_program: Any  # variant with code-point size(), for non-ASCII input; None if not needed
    functions: Mapping[str, Callable[..., Any]]
    transition: bool  # uses oldSelf: only evaluated on update
    error: str | None
    self_use: SelfUse | None


_PROGRAMS: dict[str, Program] = {}
_PROGRAMS_LOCK = threading.Lock()


def _compile_cel(source: str) -> Program:
    cached = _PROGRAMS.get(source)
    if cached is not None:
        return cached
    go_source = _rename_calls(source, {"duration": DURATION_FN}, native_duration_ok)
    unicode_source = _rename_calls(go_source, {"size": SIZE_FN})
    try:
        program = cel.compile(go_source)
        unicode_program = cel.compile(unicode_source) if unicode_source != go_source else None
    except Exception as exc:  # the cel package raises ValueError, but be safe with a foreign parser
        compiled = Program(source, None, None, {}, False, f"cannot compile: {exc}".splitlines()[0], None)
    else:
        used = set(program.functions())
        if unicode_program is not None:
            used.update(unicode_program.functions())
        compiled = Program(
            source,
            program,
            unicode_program,
            {name: FUNCTIONS[name] for name in sorted(used) if name in FUNCTIONS},
            "oldSelf" in program.variables(),
            None,
            _self_use(source),
        )
    with _PROGRAMS_LOCK:
        return _PROGRAMS.setdefault(source, compiled)


_FIELD_PATH_PART = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\]")


@dataclass(frozen=True, slots=True)
class Rule:
    rule: Program
    message: str | None
    message_expression: Program | None
    field_path: tuple[tuple[bool, str], ...]  # (is a map key, name) steps below the rule's node
    reason: str

    @property
    def text(self) -> str:
        """The rule on one line, for fixes."""
        return " ".join(self.rule.source.split())

    def failure(self) -> str:
        """The API server's text for a rule that is false: its message, else ``failed rule: ...``."""
        return self.message or f"failed rule: {self.rule.source.strip()}"

    def name(self) -> str:
        """The API server's name for a rule in an evaluation error: its message, else its text."""
        return self.message or self.rule.source.strip()

    def target(self, path: str, value: Any) -> tuple[str, Any]:
        """Where a failure is reported: the node, or the ``fieldPath`` below it (and its value)."""
        for is_key, name in self.field_path:
            path = f"{path}[{name}]" if is_key else join_path(path, name)
            value = value.get(name) if isinstance(value, Mapping) else None
        return path, value


def compile_rule(raw: Mapping[str, Any]) -> Rule:
    steps: list[tuple[bool, str]] = []
    field_path = str(raw.get("fieldPath") or "")
    pos = 0
    while pos < len(field_path):
        m = _FIELD_PATH_PART.match(field_path, pos)
        if not m:
            steps = []  # unsupported syntax: report at the rule's own node
            break
        steps.append((False, m.group(1)) if m.group(1) else (True, m.group(2)))
        pos = m.end()
    message = raw.get("message")
    expression = raw.get("messageExpression")
    return Rule(
        rule=_compile_cel(str(raw.get("rule", ""))),
        message=message.strip() if isinstance(message, str) and message.strip() else None,
        message_expression=_compile_cel(expression) if isinstance(expression, str) else None,
        field_path=tuple(steps),
        reason=str(raw.get("reason") or "FieldValueInvalid"),
    )
