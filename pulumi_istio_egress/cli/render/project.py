"""A Pulumi project and its stack configuration, read as the Pulumi CLI reads them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import RenderError, one_line


@dataclass(frozen=True)
class Project:
    name: str
    root: Path  # where Pulumi.yaml is, as the caller spelled it
    entry: Path  # the file to run
    work_dir: Path  # cwd and sys.path[0] while the program runs
    stack_dir: Path
    config: dict[str, str]  # defaults from Pulumi.yaml, keys fully qualified


class _SettingsLoader(yaml.SafeLoader):
    """YAML 1.2 core scalars, as the Pulumi CLI (go-yaml v3) reads its files.

    PyYAML's YAML 1.1 rules would turn `on`, `yes` or `2024-01-01` into a bool or a date and so
    hand the program a different config string than `pulumi up` would.
    """


def _construct_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    return int(text, 0) if text.lstrip("+-")[:2] in ("0o", "0x") else int(text, 10)


_SettingsLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
):
    _SettingsLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
_SettingsLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RenderError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_SettingsLoader)  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise RenderError(f"{path}: invalid YAML: {exc.problem or exc.context}{where}") from None
    except yaml.YAMLError as exc:
        raise RenderError(f"{path}: invalid YAML: {one_line(str(exc))}") from None


def _qualify(key: str, project: str) -> str:
    return key if ":" in key else f"{project}:{key}"


def _find_secure(value: Any) -> bool:
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            return True
        return any(_find_secure(v) for v in value.values())
    if isinstance(value, list):
        return any(_find_secure(v) for v in value)
    return False


def _config_string(value: Any) -> str:
    """A config value as the CLI hands it to the program: strings as is, everything else as JSON."""
    if isinstance(value, str):
        return value
    # json.dumps gives `true`/`false` (what Config.get_bool accepts) and numbers as the CLI does;
    # default=str keeps YAML timestamps as the text that was written.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def load_project(program_dir: Path) -> Project:
    if not program_dir.exists():
        raise RenderError(f"program directory not found: {program_dir}")
    if not program_dir.is_dir():
        raise RenderError(f"not a directory: {program_dir}")
    project_file = next((program_dir / n for n in ("Pulumi.yaml", "Pulumi.yml") if (program_dir / n).is_file()), None)
    if project_file is None:
        raise RenderError(f"no Pulumi.yaml in {program_dir}: not a Pulumi project")
    doc = _read_yaml(project_file)
    if not isinstance(doc, dict):
        raise RenderError(f"{project_file}: expected a mapping with `name` and `runtime`")
    name = doc.get("name")
    if not isinstance(name, str) or not name:
        raise RenderError(f"{project_file}: missing project `name`")
    runtime = doc.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise RenderError(f"{project_file}: runtime is {runtime_name!r}; only Python programs can be rendered")

    # `main` may point at another directory or at the entry file itself.
    main = doc.get("main")
    target = program_dir / str(main) if main else program_dir
    if target.is_dir():
        entry, work_dir = target / "__main__.py", target
    else:
        entry, work_dir = target, program_dir
    if not entry.is_file():
        raise RenderError(f"program entry point not found: {entry}")

    stack_dir = program_dir / str(doc["stackConfigDir"]) if doc.get("stackConfigDir") else program_dir

    config: dict[str, str] = {}
    declared = doc.get("config") or {}
    if not isinstance(declared, dict):
        raise RenderError(f"{project_file}: `config` must be a mapping")
    for key, spec in declared.items():
        # A mapping is a declaration (type/description/default/secret) or a `value:` wrapper;
        # anything else is the value itself.
        value = spec.get("value", spec.get("default")) if isinstance(spec, dict) else spec
        if value is None:
            continue
        full_key = _qualify(str(key), name)
        if _find_secure(value):
            raise RenderError(_secure_message(project_file, full_key))
        config[full_key] = _config_string(value)
    return Project(name, program_dir, entry, work_dir, stack_dir, config)


def _secure_message(path: Path, key: str) -> str:
    return (
        f"{path}: config key {key!r} is a secret (secure:), which cannot be decrypted offline; "
        "put a plain value in a file passed with --config-file"
    )


def _stack_files(stack_dir: Path) -> dict[str, Path]:
    if not stack_dir.is_dir():
        return {}
    found = {}
    for path in stack_dir.glob("Pulumi.*.yaml"):
        found[path.name[len("Pulumi.") : -len(".yaml")]] = path
    return dict(sorted(found.items()))


def select_stack(project: Project, stack: str | None, config_file: str | None) -> tuple[str, Path | None]:
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise RenderError(f"config file not found: {path}")
        match = re.fullmatch(r"Pulumi\.(.+)\.yaml", path.name)
        name = stack or (match.group(1) if match else "dev")
        return name.rpartition("/")[2], path
    files = _stack_files(project.stack_dir)
    if stack is not None:
        # `org/project/stack` names the same settings file as `stack`.
        short = stack.rpartition("/")[2]
        if short not in files:
            known = ", ".join(files) or "none"
            raise RenderError(
                f"no stack config file Pulumi.{short}.yaml in {project.stack_dir} (stacks there: {known})"
            )
        return short, files[short]
    if len(files) == 1:
        return next(iter(files.items()))
    if "dev" in files:
        return "dev", files["dev"]
    if not files:
        return "dev", None  # a stack without settings: only Pulumi.yaml defaults apply
    raise RenderError(f"several stacks in {project.stack_dir} ({', '.join(files)}); choose one with --stack")


def load_stack_config(path: Path, project: str) -> dict[str, str]:
    doc = _read_yaml(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise RenderError(f"{path}: expected a mapping with a `config:` section")
    section = doc.get("config") or {}
    if not isinstance(section, dict):
        raise RenderError(f"{path}: `config` must be a mapping")
    config: dict[str, str] = {}
    for key, value in section.items():
        full_key = _qualify(str(key), project)
        if _find_secure(value):
            raise RenderError(_secure_message(path, full_key))
        if value is not None:  # `key:` with nothing after it means unset
            config[full_key] = _config_string(value)
    return config

