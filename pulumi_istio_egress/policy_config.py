"""Typos in a policy pack config (the ``--policy-pack-config`` JSON): unknown policy names and
unknown options, each with a "did you mean", and enforcement levels that are misspelt or ask a
policy to remediate that cannot.

The Analyzer protocol carries only a config schema's ``properties`` and ``required``, so the CLI
cannot be told ``additionalProperties: false`` and passes misspelt options through silently;
``check`` and our pack reject them here instead. Pure: no pulumi-policy needed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

ENFORCEMENT_LEVEL = "enforcementLevel"
ALL = "all"  # the config key that sets every policy's level
LEVELS = ("advisory", "mandatory", "remediate", "disabled")
REMEDIATE = "remediate"


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, else the list of choices."""
    import difflib  # only on a misspelt option: not worth its import on every pack start-up

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


def _level_of(value: Any) -> Any:
    return value.get(ENFORCEMENT_LEVEL) if isinstance(value, Mapping) else value


def level_problems(key: str, level: Any, remediating: Collection[str] | None) -> list[str]:
    """A misspelt enforcement level, and ``remediate`` where it cannot remediate.

    pulumi-policy runs a policy's remediation only at level ``remediate`` and treats that level as
    ``mandatory`` for a policy without one (``_PolicyAnalyzerServicer.Analyze``/``AnalyzeStack``),
    so ``remediate`` on such a policy silently blocks where an advisory one was meant to warn, and
    on ``all`` it makes every advisory policy mandatory. ``remediating`` names the policies that
    can remediate (``None``: not known, e.g. another pack)."""
    if level is None or (isinstance(level, str) and level in LEVELS and level != REMEDIATE):
        return []
    where = f"policy pack config: {key}: enforcementLevel"
    if not isinstance(level, str) or level not in LEVELS:
        return [f"{where} {level!r} is not a level; " + did_you_mean(str(level), LEVELS)]
    if remediating is None or key in remediating:
        return []
    can = ", ".join(sorted(remediating)) or "none"
    if key == ALL:
        return [f"{where} 'remediate' would make every policy that cannot remediate mandatory, advisory ones "
                f"too; set it on the policies that remediate instead: {can}"]
    return [f"{where} 'remediate': {key} has no remediation, so pulumi-policy would treat it as mandatory; "
            f"the policies that remediate are {can}"]


def config_typos(config: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any] | None],
                 remediating: Collection[str] | None = None) -> list[str]:
    """Problems of ``config`` against the pack's policies (name -> JSON schema of its config, or None):
    unknown policies and options, and enforcement levels (see :func:`level_problems`)."""
    problems: list[str] = []
    for key, value in config.items():
        if key == ALL or key in schemas:
            problems += level_problems(key, _level_of(value), remediating)
        if key == ALL:
            continue
        if key not in schemas:
            problems.append(f"policy pack config: unknown policy {key!r}; {did_you_mean(key, schemas)}")
        elif isinstance(value, Mapping):
            properties = (schemas[key] or {}).get("properties") or {}
            problems += unknown_options(key, value, properties)
    return problems
