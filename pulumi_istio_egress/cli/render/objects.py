"""Offline renderer: run a Pulumi Python program under Pulumi's mock engine and emit kubectl-ready YAML.

The program runs in-process exactly as the Python language host would run it (``runpy`` inside
``run_in_stack``), with its stack configuration applied, against a mock resource monitor that
records every registration. No Pulumi CLI, engine, provider plugin or cluster is involved, so
the result is what the program *declares*, not what a provider would do with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import os
import re
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import yaml
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc as pulumi_rpc
from pulumi.runtime import stack as pulumi_stack

from .kubeyaml import resolve_plain as _resolve_plain
from .redaction import Secret, redact, reveal

__all__ = ["RenderError", "RenderedObject", "object_file_name", "render_program", "to_yaml"]


class RenderError(Exception):
    """The program could not be rendered; the message says why in one line."""


@dataclass(frozen=True)
class RenderedObject:
    """One Kubernetes object declared by the program, with the Pulumi resource it came from."""

    manifest: dict[str, Any]
    pulumi_type: str
    pulumi_name: str
    urn: str
    parent_urn: str


# ---------------------------------------------------------------------------------------------
# Kubernetes knowledge

_STACK_TYPE = "pulumi:pulumi:Stack"
_K8S_PROVIDER_TYPE = "pulumi:providers:kubernetes"

# Cluster-scoped kinds get no namespace. Deliberately a short explicit list: everything else
# (including every Istio kind) is namespaced.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService",
        "CSIDriver",
        "CSINode",
        "CertificateSigningRequest",
        "ClusterIssuer",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "FlowSchema",
        "GatewayClass",
        "IngressClass",
        "MutatingWebhookConfiguration",
        "Namespace",
        "Node",
        "PersistentVolume",
        "PriorityClass",
        "PriorityLevelConfiguration",
        "RuntimeClass",
        "StorageClass",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "ValidatingWebhookConfiguration",
        "VolumeAttachment",
    }
)

# Document order inside a namespace: the egress chain in the order it is read, then the rest.
_KIND_ORDER = ("Namespace", "ServiceEntry", "Gateway", "DestinationRule", "VirtualService", "AuthorizationPolicy")
_KIND_RANK = {kind: rank for rank, kind in enumerate(_KIND_ORDER)}

_TOP_LEVEL_ORDER = ("apiVersion", "kind", "metadata", "spec")


def _api_version_from_token(token: str) -> tuple[str, str]:
    """``kubernetes:core/v1:ConfigMap`` -> (``v1``, ``ConfigMap``); ``apps/v1`` stays ``apps/v1``."""
    _, module, kind = token.split(":", 2)
    api_version = module.removeprefix("core/")
    # Typed `...Patch` resources carry a partial object of the base kind.
    return api_version, kind.removesuffix("Patch")


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


# ---------------------------------------------------------------------------------------------
# Project and stack configuration


@dataclass(frozen=True)
class _Project:
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
        raise RenderError(f"{path}: invalid YAML: {_one_line(str(exc))}") from None


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


def _load_project(program_dir: Path) -> _Project:
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
    return _Project(name, program_dir, entry, work_dir, stack_dir, config)


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


def _select_stack(project: _Project, stack: str | None, config_file: str | None) -> tuple[str, Path | None]:
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


def _load_stack_config(path: Path, project: str) -> dict[str, str]:
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


# ---------------------------------------------------------------------------------------------
# The mock engine


class _OfflineLimitError(Exception):
    """Something the program asked for that only a real engine or provider can do."""


@dataclass
class _Registration:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]


_STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
_HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


def autoname(name: str, type_: str) -> str:
    """The name the offline render gives an object without ``metadata.name``. The Kubernetes
    provider's Check appends a random suffix (known at preview); offline the suffix is a hash of the
    resource's type and name instead, so renders are stable."""
    digest = hashlib.sha256(f"{type_}::{name}".encode()).hexdigest()[:8]
    return f"{name}-{digest}"


class _Mocks(pulumi.runtime.Mocks):
    """Resources as ``pulumi preview`` sees them. Outputs echo inputs, so programs read back what
    they declared; what only a deployment knows is unknown, as in a preview: a StackReference's
    outputs, a helm Release's status, every object's ``status``. An unknown value that reaches a
    Kubernetes object is reported by name when the object is rendered (``_plain``)."""

    def __init__(self) -> None:
        # new_resource runs on the executor thread that serves RegisterResource; the monitor
        # picks the inputs up from here after the call returns.
        self.local = threading.local()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[Any, Any]]:
        inputs = dict(args.inputs)
        if args.typ == _STACK_REFERENCE_TYPE:
            self.local.inputs = inputs
            # Another stack's outputs exist only in the backend.
            return args.name, {"name": inputs.get("name", args.name), "outputs": pulumi_rpc.UNKNOWN,
                               "secretOutputNames": pulumi_rpc.UNKNOWN}
        if args.typ == _HELM_RELEASE_TYPE:
            self.local.inputs = inputs
            print(f"warning: helm Release {args.name!r}: its chart is installed by the provider, so its objects are "
                  "not rendered offline (use `helm template` and pass the YAML to `check`)", file=sys.stderr)
            outputs = {**inputs, "name": inputs.get("name") or autoname(args.name, args.typ)}
            return args.name, {**outputs, "status": pulumi_rpc.UNKNOWN, "resourceNames": pulumi_rpc.UNKNOWN}
        if args.custom and args.typ.startswith("kubernetes:") and not args.typ.startswith("kubernetes:helm.sh/"):
            metadata = inputs.get("metadata")
            if isinstance(metadata, dict) and not metadata.get("name") and not args.typ.endswith("Patch"):
                inputs["metadata"] = {**metadata, "name": autoname(args.name, args.typ)}
            elif metadata is None and not args.typ.endswith("Patch"):
                inputs["metadata"] = {"name": autoname(args.name, args.typ)}
            self.local.inputs = inputs
            return args.name, {**inputs, "status": pulumi_rpc.UNKNOWN}
        self.local.inputs = inputs
        return args.name, inputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        if args.token == "kubernetes:yaml:decode":
            # What yaml.ConfigFile / ConfigGroup (v1) ask the provider for; parsing is all it does.
            try:
                docs = [d for d in yaml.safe_load_all(str(args.args.get("text", ""))) if d is not None]
            except yaml.YAMLError as exc:
                raise _OfflineLimitError(f"kubernetes:yaml:decode: invalid YAML: {_one_line(str(exc))}") from None
            return {"result": docs}, []
        raise _OfflineLimitError(f"the program calls provider function {args.token!r}, which cannot run offline")


class _Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks, progress: Callable[[int], None] | None) -> None:
        super().__init__(mocks)
        self._mocks = mocks
        self._progress = progress
        self._lock = threading.Lock()
        self.registrations: list[_Registration] = []
        self.thread_loops: list[asyncio.AbstractEventLoop] = []
        self._thread_local = threading.local()
        self._count = 0

    def _thread_loop(self) -> None:
        # The SDK's mock monitor gives each executor thread an event loop it never closes; the
        # loops then die at interpreter exit, noisily. Create them here so they can be closed.
        if getattr(self._thread_local, "loop", None) is None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._thread_local.loop = loop
            with self._lock:
                self.thread_loops.append(loop)

    def make_urn(self, parent: str, type_: str, name: str) -> str:
        # The engine's rule (the mock keeps only the parent's last type): children carry their
        # parent's whole qualified type, except under the root stack.
        if parent:
            parent_type = parent.split("::")[2]
            if parent_type != _STACK_TYPE:
                type_ = f"{parent_type}${type_}"
        return "urn:pulumi:" + "::".join([pulumi.get_stack(), pulumi.get_project(), type_, name])

    def RegisterResource(self, request: Any) -> Any:
        self._thread_loop()
        if request.type == _STACK_TYPE:
            return self._register(request)
        if len(request.transforms):
            raise _OfflineLimitError(
                f"resource {request.name!r} ({request.type}) has transforms, which the offline renderer cannot run"
            )
        if request.remote and request.type.startswith("kubernetes:"):
            raise _OfflineLimitError(
                f"resource {request.name!r} is a {request.type}, a provider-side component "
                "whose objects the offline renderer cannot expand"
            )
        response = self._register(request)
        registration = _Registration(
            type=request.type,
            name=request.name,
            urn=response.urn,
            parent=request.parent,
            custom=bool(request.custom),
            provider=request.provider,
            inputs=self._mocks.local.inputs,
        )
        with self._lock:
            self.registrations.append(registration)
            if registration.custom and registration.type.startswith("kubernetes:"):
                self._count += 1
                if self._progress is not None:
                    self._progress(self._count)
        return response

    def Invoke(self, request: Any) -> Any:
        self._thread_loop()
        base: Any = super()
        return base.Invoke(request)

    def ReadResource(self, request: Any) -> Any:
        self._thread_loop()
        base: Any = super()
        return base.ReadResource(request)

    def _register(self, request: Any) -> Any:
        base: Any = super()  # the SDK's mock monitor is untyped
        return base.RegisterResource(request)

    def RegisterStackTransform(self, request: Any) -> Any:
        raise _OfflineLimitError("the program registers a stack transform, which the offline renderer cannot run")


# ---------------------------------------------------------------------------------------------
# Running a program


# Pulumi's runtime, cwd, sys.path and sys.modules are process-wide: one render at a time.
_RENDER_LOCK = threading.Lock()
_PROGRAM_LOGGER = logging.getLogger("pulumi_istio_egress.program")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _program_location(exc: BaseException, project: _Project) -> str | None:
    """``file:line`` of the deepest traceback frame in the program's own files."""
    root = project.root.resolve()
    # The program dir may be a repository root holding the venv and this package: frames there
    # are library code, not the program.
    excluded = [Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}]
    excluded.append(Path(__file__).resolve().parent)
    places = [(frame.filename, frame.lineno) for frame in traceback.extract_tb(exc.__traceback__)]
    if isinstance(exc, SyntaxError) and exc.filename:
        places.append((exc.filename, exc.lineno))  # the program's own code did not compile
    found = None
    for filename, lineno in places:
        if filename.startswith("<"):  # `<frozen runpy>`, `<string>`: not a file
            continue
        path = Path(filename).resolve()
        if _is_under(path, root) and not any(_is_under(path, e) for e in excluded):
            found = f"{path.relative_to(root).as_posix()}:{lineno}"
    return found


def _offline_limit(exc: BaseException) -> _OfflineLimitError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _OfflineLimitError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _program_error(exc: BaseException, project: _Project) -> RenderError:
    if isinstance(exc, SystemExit):
        return RenderError(f"program exited with status {exc.code}")
    limit = _offline_limit(exc)
    if limit is not None:
        message = _one_line(str(limit))
    else:
        detail = _one_line(exc.msg if isinstance(exc, SyntaxError) else str(exc))
        message = f"program raised {type(exc).__name__}" + (f": {detail}" if detail else "")
    location = _program_location(exc, project)
    return RenderError(f"{message} (at {location})" if location else message)


@contextlib.contextmanager
def _process_state(project: _Project) -> Iterator[None]:
    """Run with the program's cwd, sys.path and argv; put all of it back afterwards."""
    saved_cwd = os.getcwd()
    saved_path = list(sys.path)
    saved_argv = list(sys.argv)
    saved_modules = set(sys.modules)
    # Config comes from the stack files only: drop what a surrounding `pulumi` run may have set.
    saved_env = {k: v for k, v in os.environ.items() if k == "PULUMI_CONFIG" or k.startswith("PULUMI_CONFIG_")}
    work_dir = project.work_dir.resolve()
    try:
        for key in saved_env:
            del os.environ[key]
        os.chdir(work_dir)
        sys.path.insert(0, str(work_dir))
        sys.argv = [str(project.entry.resolve())]
        yield
    finally:
        os.chdir(saved_cwd)
        sys.path[:] = saved_path
        sys.argv = saved_argv
        os.environ.update(saved_env)
        # Forget modules the program imported from its own directory, so the next program's
        # `helpers.py` is not this one's. Installed packages stay, even from a virtualenv inside that
        # directory: pulumi-kubernetes modules register with Pulumi's runtime once per process, and a
        # second import fails with "Cannot re-register package".
        for name in set(sys.modules) - saved_modules:
            origin = getattr(sys.modules[name], "__file__", None)
            if origin and _is_under(Path(origin).resolve(), work_dir) and "site-packages" not in Path(origin).parts:
                del sys.modules[name]


def _reset_runtime(project: str, stack: str, root: str, monitor: Any = None, engine: Any = None) -> None:
    """Give Pulumi's runtime a fresh state: no root stack, new settings, the given config."""
    # A preview: values only a deployment knows stay unknown, and applies on them do not run.
    pulumi.runtime.reset_options(project=project, stack=stack, root_directory=root, preview=True)
    if monitor is not None:
        pulumi.runtime.configure(
            pulumi.runtime.Settings(
                project=project,
                stack=stack,
                monitor=monitor,
                engine=engine,
                dry_run=True,
                organization="organization",
                root_directory=root,
            )
        )


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    pending = asyncio.all_tasks(loop)
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


def _execute(project: _Project, stack: str, config: dict[str, str], monitor: _Monitor) -> None:
    """Run the program on a fresh event loop in the calling (fresh) thread."""
    loop = asyncio.new_event_loop()
    # A failed program leaves futures whose exceptions nobody reads; the error is reported once.
    loop.set_exception_handler(lambda _loop, _context: None)
    asyncio.set_event_loop(loop)
    root = str(project.root.resolve())
    try:
        pulumi.runtime.set_all_config(config, [])
        _reset_runtime(project.name, stack, root, monitor, pulumi_mocks.MockEngine(_PROGRAM_LOGGER))
        entry = str(project.entry.resolve())

        def program() -> None:
            runpy.run_path(entry, run_name="__main__")

        with _process_state(project):
            loop.run_until_complete(pulumi_stack.run_in_stack(program))
    finally:
        _close_loop(loop)  # also joins the executor threads
        for thread_loop in monitor.thread_loops:
            thread_loop.close()
        asyncio.set_event_loop(None)
        # Settings are ContextProperty objects that adopt the first value set over None as their
        # default for contexts that never set them; two resets put those defaults back to None
        # so no monitor (and its records) outlives the render.
        _reset_runtime(project.name, stack, root)
        _reset_runtime(project.name, stack, root)
        pulumi.runtime.set_all_config({}, [])


def _run(project: _Project, stack: str, config: dict[str, str], progress: Callable[[int], None] | None) -> _Monitor:
    monitor = _Monitor(_Mocks(), progress)
    outcome: list[BaseException] = []

    def target() -> None:
        try:
            _execute(project, stack, config, monitor)
        except BaseException as exc:  # handed to the calling thread
            outcome.append(exc)

    # A new thread starts with an empty contextvars context and no event loop, so the program
    # sees pristine Pulumi settings/config and the caller's own ones are never touched.
    thread = threading.Thread(target=target, name="pulumi-render", daemon=True)
    with _RENDER_LOCK:
        thread.start()
        thread.join()
    if outcome:
        exc = outcome[0]
        if isinstance(exc, (KeyboardInterrupt, RenderError)):
            raise exc
        raise _program_error(exc, project) from exc
    return monitor


# ---------------------------------------------------------------------------------------------
# From registrations to manifests


def _plain(value: Any, where: str, path: str) -> Any:
    """Plain YAML-able data: secrets kept as :class:`Secret`, Nones dropped, integral floats back to ints."""
    if pulumi_rpc.is_rpc_secret(value):
        return Secret(_plain(pulumi_rpc.unwrap_rpc_secret(value), where, path))
    if isinstance(value, dict):
        return {
            str(k): _plain(v, where, f"{path}.{k}")
            for k, v in value.items()
            if pulumi_rpc.unwrap_rpc_secret(v) is not None
        }
    if isinstance(value, list):
        return [
            _plain(v, where, f"{path}[{i}]") for i, v in enumerate(value) if pulumi_rpc.unwrap_rpc_secret(v) is not None
        ]
    if isinstance(value, float):
        if not math.isfinite(value):
            # kubectl sends JSON, which has no NaN or infinity: it would refuse the file.
            raise RenderError(f"{where}: {path} is {value}, which Kubernetes' JSON cannot carry")
        # Mocks pass numbers through protobuf doubles: 443 comes back as 443.0.
        return int(value) if value.is_integer() else value
    if isinstance(value, (str, int)):  # bool is an int
        return value
    if isinstance(value, Unknown) or value == pulumi_rpc.UNKNOWN:
        raise RenderError(
            f"{where}: {path.removeprefix('inputs.')} is not known before deployment (it comes from a value only "
            "a deployment knows: a StackReference output, a helm Release's status or another object's status), "
            "so it cannot be rendered offline; give it as a plain value, e.g. from stack config"
        )
    raise RenderError(f"{where}: cannot render a {type(value).__name__} at {path}")


def _strip_internal(mapping: dict[str, Any]) -> dict[str, Any]:
    # Pulumi bookkeeping keys (`__defaults`, `__inputs`, ...) live at the top and in metadata;
    # deeper down a `__x` key may be real data (a ConfigMap file name), so it stays.
    return {k: v for k, v in mapping.items() if not k.startswith("__")}


def _manifest(reg: _Registration, default_namespace: str) -> dict[str, Any]:
    where = f"resource {reg.name!r} ({reg.type})"
    inputs = _strip_internal(_plain(reg.inputs, where, "inputs"))
    token_version, token_kind = _api_version_from_token(reg.type)
    # Identity is public (it is in the URN and the file name), even when computed from a secret.
    api_version = reveal(inputs.pop("apiVersion", None)) or token_version
    kind = reveal(inputs.pop("kind", None)) or token_kind
    metadata = inputs.pop("metadata", None)
    metadata = metadata.value if isinstance(metadata, Secret) else metadata
    metadata = _strip_internal(metadata) if isinstance(metadata, dict) else {}
    for key in ("name", "namespace"):
        if key in metadata:
            metadata[key] = reveal(metadata[key])
    if not metadata.get("name"):
        raise RenderError(
            f"{where} has no metadata.name; the real provider would add a random suffix, so set the name explicitly"
        )
    if kind not in CLUSTER_SCOPED_KINDS and not metadata.get("namespace"):
        metadata["namespace"] = default_namespace
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **inputs}


def _identity(manifest: Mapping[str, Any]) -> tuple[str, str, str, str]:
    meta = manifest.get("metadata") or {}
    return (
        _group(str(manifest.get("apiVersion", ""))),
        str(manifest.get("kind", "")),
        str(meta.get("namespace") or ""),
        str(meta.get("name") or ""),
    )


def _order_key(obj: RenderedObject) -> tuple[str, int, str, str, str, str]:
    group, kind, namespace, name = _identity(obj.manifest)
    return (namespace, _KIND_RANK.get(kind, len(_KIND_RANK)), kind, name, group, obj.urn)


def _objects(monitor: _Monitor, config: Mapping[str, str]) -> list[RenderedObject]:
    # Registrations arrive in thread-completion order; sort so that errors name the same
    # resources on every run.
    registrations = sorted(
        monitor.registrations, key=lambda r: (r.urn, json.dumps(r.inputs, sort_keys=True, default=str))
    )
    seen_urns: dict[str, _Registration] = {}
    for reg in registrations:
        if reg.urn in seen_urns:
            # Mocks accept this silently; the engine would stop the update.
            raise RenderError(f"duplicate resource URN {reg.urn}: give one of the resources another name")
        seen_urns[reg.urn] = reg

    # Unnamespaced objects land in the provider's namespace, as they would on a real update.
    provider_namespaces = {
        reg.urn: str(pulumi_rpc.unwrap_rpc_secret(reg.inputs["namespace"]))
        for reg in registrations
        if reg.type == _K8S_PROVIDER_TYPE and pulumi_rpc.unwrap_rpc_secret(reg.inputs.get("namespace"))
    }
    default_namespace = config.get("kubernetes:namespace") or "default"

    objects: list[RenderedObject] = []
    owners: dict[tuple[str, str, str, str], _Registration] = {}
    for reg in registrations:
        if not (reg.custom and reg.type.startswith("kubernetes:")) or reg.type == _HELM_RELEASE_TYPE:
            continue  # a Release is a chart the provider installs, not an object (see _Mocks)
        provider_urn = reg.provider.rpartition("::")[0] if reg.provider else ""
        manifest = _manifest(reg, provider_namespaces.get(provider_urn, default_namespace))
        identity = _identity(manifest)
        if identity in owners:
            _, kind, namespace, name = identity
            ref = f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"
            raise RenderError(f"resources {owners[identity].name!r} and {reg.name!r} both declare {ref}")
        owners[identity] = reg
        objects.append(RenderedObject(manifest, reg.type, reg.name, reg.urn, reg.parent))
    return sorted(objects, key=_order_key)


def render_program(
    program_dir: str | os.PathLike[str],
    *,
    stack: str | None = None,
    config_file: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[RenderedObject]:
    """Run the Pulumi program in ``program_dir`` offline and return the Kubernetes objects it declares.

    ``stack`` picks ``Pulumi.<stack>.yaml`` (default: the only stack file, else ``dev``);
    ``config_file`` replaces that file. ``progress`` is called with the running count of
    Kubernetes objects as they are registered (from a worker thread). Objects come back in
    document order: namespace, then kind (Namespace, ServiceEntry, Gateway, DestinationRule,
    VirtualService, AuthorizationPolicy, others alphabetically), then name.
    """
    project = _load_project(Path(program_dir))
    stack_name, stack_path = _select_stack(project, stack, config_file)
    config = dict(project.config)
    if stack_path is not None:
        config.update(_load_stack_config(stack_path, project.name))
    monitor = _run(project, stack_name, config, progress)
    return _objects(monitor, config)


# ---------------------------------------------------------------------------------------------
# YAML output


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
    _, kind, namespace, name = _identity(manifest)
    full = f"{_file_part(namespace or '_cluster')}.{_file_part(kind.lower())}.{_file_part(name)}"
    if len(full) + len(".yaml") <= MAX_FILE_NAME:
        return f"{full}.yaml"
    digest = hashlib.sha256(full.encode()).hexdigest()[:16]
    return f"{full[: MAX_FILE_NAME - len(digest) - len('-.yaml')]}-{digest}.yaml"
