"""The CLI's rules for ``--policy-pack-config``, from pulumi/pulumi ``pkg/resource/analyzer/config.go``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...extras import requires_extra

with requires_extra("`check`"):  # the policy-pack client is what `check` runs
    import jsonschema


from .wire import LEVELS, PackInfo

# --- config reconciliation ------------------------------------------------------------------------

_Entry = tuple[str | None, dict[str, Any]]


def _level(policy: str, value: Any) -> str:
    if not isinstance(value, str) or value not in LEVELS:
        raise ValueError(f"policy pack config: {policy}: enforcementLevel {value!r} is not one of {', '.join(LEVELS)}")
    return value


def _entries(config: Mapping[str, Any]) -> dict[str, _Entry]:
    """Split file-shaped config into (level, properties) per key, as the CLI parses the file."""
    entries: dict[str, _Entry] = {}
    for key, value in config.items():
        if isinstance(value, str):
            entries[key] = (_level(key, value), {})
        elif isinstance(value, Mapping):
            props = dict(value)
            raw = props.pop("enforcementLevel", None)
            level = None if raw is None else _level(key, raw)
            if level is not None or props:  # the CLI drops empty entries
                entries[key] = (level, props)
        else:
            raise ValueError(f"policy pack config: {key}: {value!r} is not a valid value; use a level or an object")
    return entries


def _apply(result: dict[str, _Entry], entries: Mapping[str, _Entry]) -> None:
    all_level = entries["all"][0] if "all" in entries else None
    if all_level is not None:
        for name, (_, props) in result.items():
            result[name] = (all_level, props)
    # A policy entry after "all": its own level wins, and properties merge key by key.
    for name, (level, props) in entries.items():
        if name in result:
            old_level, old_props = result[name]
            result[name] = (level or old_level, {**old_props, **props})


def reconcile_config(info: PackInfo, config_file: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The config the CLI would send to Configure: ``{policy: {"enforcementLevel": level, **props}}``.

    Layers, later wins: each policy's default level and its schema's ``default`` values, then the
    pack's ``initial_config``, then ``config_file`` (the parsed ``--policy-pack-config`` JSON, where
    ``all`` sets every level). The result is validated against each policy's JSON schema.

    Stricter than the CLI, which silently passes them through: a file key naming no policy, ``all``
    with properties, and ESC ``environments`` raise :class:`ValueError`.
    """
    names = [policy.name for policy in info.policies]
    result: dict[str, _Entry] = {}
    for policy in info.policies:
        properties = (policy.config_schema or {}).get("properties", {})
        defaults = {key: schema["default"] for key, schema in properties.items() if "default" in schema}
        result[policy.name] = (policy.enforcement_level, defaults)
    _apply(result, _entries(info.initial_config))

    if config_file is not None:
        if "environments" in config_file:
            raise ValueError("policy pack config: 'environments' (Pulumi ESC) is not supported offline")
        entries = _entries(config_file)
        for key, (_, props) in entries.items():
            if key == "all" and props:
                raise ValueError(
                    f"policy pack config: all: only enforcementLevel applies to all policies, "
                    f"got {', '.join(sorted(props))}"
                )
            if key != "all" and key not in result:
                raise ValueError(f"policy pack config: unknown policy {key!r}; pack {info.name} has {', '.join(names)}")
        _apply(result, entries)

    problems: list[str] = []
    for policy in info.policies:
        if policy.config_schema is None:
            continue
        validator = jsonschema.Draft7Validator(policy.config_schema)
        for error in sorted(
            validator.iter_errors(result[policy.name][1]), key=lambda e: [str(part) for part in e.absolute_path]
        ):
            key = ".".join(str(part) for part in error.absolute_path)
            if not key and error.validator == "required":
                key = next((str(r) for r in error.validator_value if r not in error.instance), "")
            problems.append(f"{policy.name}: {key or '(root)'}: {error.message}")
    if problems:
        raise ValueError("policy pack config is invalid: " + "; ".join(problems))

    # result keeps every policy and always carries a level, so Configure never sends the zero value.
    return {name: {"enforcementLevel": level, **props} for name, (level, props) in result.items()}

