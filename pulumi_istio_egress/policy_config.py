"""Typos in a policy pack config (the ``--policy-pack-config`` JSON): unknown policy names and
unknown options, each with a "did you mean".

The Analyzer protocol carries only a config schema's ``properties`` and ``required``, so the CLI
cannot be told ``additionalProperties: false`` and passes misspelt options through silently;
``check`` and our pack reject them here instead. Pure: no pulumi-policy needed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

ENFORCEMENT_LEVEL = "enforcementLevel"
ALL = "all"  # the config key that sets every policy's level


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, else the list of choices."""
    options = sorted(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return f"the choices are {', '.join(options)}" if options else "there are none"


def unknown_options(policy: str, options: Iterable[str], known: Iterable[str]) -> list[str]:
    """One message per option of ``policy`` that its config schema does not declare."""
    names = [k for k in known if k != ENFORCEMENT_LEVEL]
    return [
        f"policy pack config: {policy}: unknown option {option!r}; "
        + did_you_mean(option, [*names, ENFORCEMENT_LEVEL])
        for option in options
        if option != ENFORCEMENT_LEVEL and option not in names
    ]


def config_typos(config: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """Problems of ``config`` against the pack's policies (name -> JSON schema of its config, or None)."""
    problems: list[str] = []
    for key, value in config.items():
        if key == ALL:
            continue
        if key not in schemas:
            problems.append(f"policy pack config: unknown policy {key!r}; {did_you_mean(key, schemas)}")
        elif isinstance(value, Mapping):
            properties = (schemas[key] or {}).get("properties") or {}
            problems += unknown_options(key, value, properties)
    return problems
