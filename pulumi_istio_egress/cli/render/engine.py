"""The mock engine the program runs against, and running the program in this process."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import runpy
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi.runtime
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc as pulumi_rpc
from pulumi.runtime import stack as pulumi_stack

from .errors import RenderError, one_line
from .project import Project

# ---------------------------------------------------------------------------------------------
# The mock engine


class _OfflineLimitError(Exception):
    """Something the program asked for that only a real engine or provider can do."""


@dataclass
class Registration:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    provider: str
    inputs: dict[str, Any]


_STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"
HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"
_STACK_TYPE = "pulumi:pulumi:Stack"


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
        if args.typ == HELM_RELEASE_TYPE:
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
                raise _OfflineLimitError(f"kubernetes:yaml:decode: invalid YAML: {one_line(str(exc))}") from None
            return {"result": docs}, []
        raise _OfflineLimitError(f"the program calls provider function {args.token!r}, which cannot run offline")


class Monitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: _Mocks, progress: Callable[[int], None] | None) -> None:
        super().__init__(mocks)
        self._mocks = mocks
        self._progress = progress
        self._lock = threading.Lock()
        self.registrations: list[Registration] = []
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
        registration = Registration(
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



def _is_under(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def _program_location(exc: BaseException, project: Project) -> str | None:
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


def _program_error(exc: BaseException, project: Project) -> RenderError:
    if isinstance(exc, SystemExit):
        return RenderError(f"program exited with status {exc.code}")
    limit = _offline_limit(exc)
    if limit is not None:
        message = one_line(str(limit))
    else:
        detail = one_line(exc.msg if isinstance(exc, SyntaxError) else str(exc))
        message = f"program raised {type(exc).__name__}" + (f": {detail}" if detail else "")
    location = _program_location(exc, project)
    return RenderError(f"{message} (at {location})" if location else message)


@contextlib.contextmanager
def _process_state(project: Project) -> Iterator[None]:
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


def _execute(project: Project, stack: str, config: dict[str, str], monitor: Monitor) -> None:
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


def run_program(
    project: Project, stack: str, config: dict[str, str], progress: Callable[[int], None] | None
) -> Monitor:
    monitor = Monitor(_Mocks(), progress)
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

