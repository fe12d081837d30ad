"""Drive a Python pulumi-policy pack over the Analyzer gRPC protocol, the way the Pulumi CLI does.

The CLI never imports a policy pack: it starts ``python -u -m pulumi.policy <engine> <pack-dir>``
with the pack directory as working directory, reads the port from the first stdout line and talks
gRPC: Handshake -> ConfigureStack -> GetAnalyzerInfo -> Configure -> (Remediate, Analyze) per
resource -> AnalyzeStack. :class:`PolicyPackProcess` does the same without the CLI, serving the small
Engine service the pack may call back into, and :func:`reconcile_config` applies the CLI's rules for
``--policy-pack-config``. Facts come from pulumi/pulumi ``pkg/resource/plugin/analyzer_plugin.go``,
``pkg/resource/analyzer/config.go``, ``pkg/resource/deploy/step_generator.go`` and the installed
``pulumi_policy`` server.

Property marshalling supports what Kubernetes manifests need: ``None``, ``bool``, ``int``,
``float``, ``str``, lists/tuples and string-keyed mappings, plus :class:`Secret` (sent with
Pulumi's secret signature) and :data:`UNKNOWN` (sent as the unknown-string sentinel, as the CLI
does for an unknown output during preview). Not supported: assets, archives, resource references,
output values, and type-specific unknowns (unknown bool/number/array/object sentinels are only
read back, never produced). Integers travel as protobuf doubles, as in the CLI: the pack sees
``443.0`` and loses precision above 2**53.
"""

from __future__ import annotations

import contextlib
import copy
import enum
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any, NoReturn

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2, engine_pb2_grpc

from .extras import requires_extra

with requires_extra("`check`"):  # the policy-pack client is what `check` runs
    import jsonschema

from .redaction import Secret

__all__ = [
    "LEVELS",
    "UNKNOWN",
    "PackInfo",
    "PolicyInfo",
    "PolicyPackError",
    "PolicyPackProcess",
    "Resource",
    "Secret",
    "Violation",
    "analyze_all",
    "reconcile_config",
    "run_pack",
]

LEVELS = ("advisory", "mandatory", "remediate", "disabled")
"""Valid enforcement levels, as spelled in config files and reported in :class:`Violation`."""

_LEVEL_FROM_WIRE = {
    analyzer_pb2.ADVISORY: "advisory",
    analyzer_pb2.MANDATORY: "mandatory",
    analyzer_pb2.REMEDIATE: "remediate",
    analyzer_pb2.DISABLED: "disabled",
}
_LEVEL_TO_WIRE = {name: value for value, name in _LEVEL_FROM_WIRE.items()}

# Signatures from pulumi/pulumi sdk/go/common/resource/properties.go and plugin/rpc.go.
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
_UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
_UNKNOWN_SENTINELS = frozenset(
    {
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # bool
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        _UNKNOWN_STRING,
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)

# Same ceiling as the policy SDK's server, so a large AnalyzeStack is not refused client side.
_MAX_MESSAGE = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]
_RPC_TIMEOUT = 120.0
_STOP_TIMEOUT = 5.0
_STDERR_TAIL_LINES = 30


class PolicyPackError(RuntimeError):
    """The pack could not be started or an Analyzer call failed; the message carries its stderr tail."""


class _Unknown(enum.Enum):
    VALUE = "unknown"


UNKNOWN = _Unknown.VALUE
"""A property value that is not known yet (preview): the pack's policies that read it are skipped."""


@dataclass(frozen=True)
class PolicyInfo:
    name: str
    description: str
    enforcement_level: str
    """The pack's default for this policy: one of :data:`LEVELS`."""
    config_schema: dict[str, Any] | None
    """The JSON schema the CLI validates this policy's config against (``type: object``), if any."""


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    """``version`` from PulumiPolicy.yaml when set (the CLI prefers it), else what the pack reports."""
    policies: tuple[PolicyInfo, ...]
    """Sorted by name, as the CLI sorts them."""
    initial_config: dict[str, dict[str, Any]]
    """The pack's ``initial_config`` as it arrives over the wire: ``{policy: {"enforcementLevel": …, **props}}``.
    An entry the pack gave without a level arrives as ``advisory`` (proto3 zero value)."""


@dataclass(frozen=True)
class Violation:
    policy_name: str
    description: str
    message: str
    """As the pack sends it: the policy description, a newline, then the reported message."""
    enforcement_level: str
    urn: str
    """For resource policies the analyzed resource; for stack policies the reported URN when it names
    a resource of the stack, else the root stack URN (as the CLI attributes them)."""
    pack_name: str


def _urn(stack: str, project: str, type_: str, name: str) -> str:
    return f"urn:pulumi:{stack}::{project}::{type_}::{name}"


def _stack_urn(stack: str, project: str) -> str:
    return _urn(stack, project, "pulumi:pulumi:Stack", f"{project}-{stack}")


@dataclass(frozen=True)
class Resource:
    """One resource as the CLI sends it to Analyze/AnalyzeStack (type, name, properties, URN, graph)."""

    type: str
    name: str
    props: dict[str, Any]
    urn: str = ""
    """Empty means ``urn:pulumi:<stack>::<project>::<type>::<name>`` with the process's stack/project."""
    parent: str = ""
    dependencies: tuple[str, ...] = ()

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], project: str = "project", stack: str = "stack") -> Resource:
        """What pulumi-kubernetes registers for a Kubernetes object.

        Type ``kubernetes:<apiVersion>:<Kind>`` (the core group ``v1`` becomes ``core/v1``); name
        ``<namespace>/<name>`` for namespaced objects, like pulumi-kubernetes' YAML support, so two
        objects with one name in different namespaces stay distinct. The provider's Check (which
        may add defaults or autoname annotations) is not simulated: props are the manifest itself.
        """
        api_version, kind = manifest.get("apiVersion"), manifest.get("kind")
        metadata = manifest.get("metadata")
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        if not (isinstance(api_version, str) and api_version and isinstance(kind, str) and kind):
            raise ValueError(f"manifest needs a string apiVersion and kind, got {api_version!r}/{kind!r}")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{kind} manifest has no metadata.name")
        assert isinstance(metadata, Mapping)
        namespace = metadata.get("namespace")
        type_ = f"kubernetes:{api_version if '/' in api_version else 'core/' + api_version}:{kind}"
        qualified = f"{namespace}/{name}" if isinstance(namespace, str) and namespace else name
        return cls(
            type=type_,
            name=qualified,
            props=copy.deepcopy(dict(manifest)),
            urn=_urn(stack, project, type_, qualified),
        )


# --- property marshalling -------------------------------------------------------------------------


def _to_wire(value: Any, where: str) -> Any:
    """A JSON-like value with Pulumi's signatures, ready for ``Struct.update``."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Secret):
        return {_SIG_KEY: _SECRET_SIG, "value": _to_wire(value.value, where)}
    if value is UNKNOWN:
        return _UNKNOWN_STRING
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: property keys must be strings, got {key!r}")
            out[key] = _to_wire(item, f"{where}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_wire(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where}: cannot send a {type(value).__name__} to a policy pack")


def _struct(props: Mapping[str, Any], *, skip_internal: bool) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    # The CLI drops top-level "__" keys for Analyze/AnalyzeStack but keeps them for Remediate.
    out.update(
        {key: _to_wire(value, key) for key, value in props.items() if not (skip_internal and key.startswith("__"))}
    )
    return out


def _from_wire(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(_SIG_KEY) == _SECRET_SIG:
            return Secret(_from_wire(value.get("value")))
        return {key: _from_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_wire(item) for item in value]
    if isinstance(value, str) and value in _UNKNOWN_SENTINELS:
        return UNKNOWN
    return value


def _plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(struct)


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


# --- the engine service the pack may call back into -----------------------------------------------


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self, logs: list[str]) -> None:
        self._logs = logs
        self._root = ""

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        severity = engine_pb2.LogSeverity.Name(request.severity).lower()
        self._logs.append(f"{severity}: {request.message}")
        return empty_pb2.Empty()

    def GetRootResource(
        self, request: engine_pb2.GetRootResourceRequest, context: Any
    ) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(
        self, request: engine_pb2.SetRootResourceRequest, context: Any
    ) -> engine_pb2.SetRootResourceResponse:
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()

    def RequirePulumiVersion(
        self, request: engine_pb2.RequirePulumiVersionRequest, context: Any
    ) -> engine_pb2.RequirePulumiVersionResponse:
        # No CLI version to compare against; accepting is what makes offline runs possible.
        return engine_pb2.RequirePulumiVersionResponse()


# --- the pack process -----------------------------------------------------------------------------


def _load_project(pack_dir: Path) -> dict[str, Any]:
    path = pack_dir / "PulumiPolicy.yaml"
    try:
        project = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise PolicyPackError(f"failed to load Pulumi policy project located at {str(pack_dir)!r}: {err}") from err
    if not isinstance(project, dict):
        raise PolicyPackError(f"{path}: expected a mapping")
    runtime = project.get("runtime")
    runtime_name = runtime.get("name") if isinstance(runtime, dict) else runtime
    if runtime_name != "python":
        raise PolicyPackError(f"{path}: runtime is {runtime_name!r}; only Python policy packs are supported")
    return project


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


class PolicyPackProcess:
    """A running policy pack, started and spoken to exactly as the Pulumi CLI does.

    Use as a context manager. ``__enter__`` serves the Engine service, starts the pack, reads its
    port and runs Handshake, ConfigureStack and GetAnalyzerInfo; ``__exit__`` stops the process
    and the service and joins every thread it started.

    ``logs`` collects what the CLI would show from the pack: Engine ``Log`` calls as
    ``"<severity>: <message>"`` and the pack's stdout (after the port) and stderr lines. A Python
    pack's ``pulumi.log.*`` ends up on stderr, already prefixed (``info: …``), because the policy
    runtime never hands the engine address to the SDK. Stream lines are complete only once the
    process has stopped.

    Not reproduced: ``runtime.options`` of PulumiPolicy.yaml (``virtualenv`` etc.; pass
    ``python=`` instead), provider resources and resource options other than ``parent``,
    property dependencies, stack tags and secret config keys.
    """

    logs: list[str]

    def __init__(
        self,
        pack_dir: str | os.PathLike[str],
        *,
        python: str = sys.executable,
        project: str = "project",
        stack: str = "stack",
        organization: str = "organization",
        dry_run: bool = True,
        config: dict[str, str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.pack_dir = Path(pack_dir).resolve()
        self.python = python
        self.project = project
        self.stack = stack
        self.organization = organization
        self.dry_run = dry_run
        self.config = config
        self.startup_timeout = startup_timeout
        self.logs = []
        self.engine_address = ""
        """The Engine service the pack was given (``host:port``), once started."""
        self._stderr: list[str] = []
        self._info: PackInfo | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stopped = False
        self._threads: list[threading.Thread] = []
        self._port_line: queue.Queue[str | None] = queue.Queue()
        self._server: Any = None
        self._executor: futures.ThreadPoolExecutor | None = None
        self._channel: Any = None
        self._stub: Any = None

    @property
    def info(self) -> PackInfo:
        """GetAnalyzerInfo, as the CLI post-processes it (yaml version wins, policies sorted)."""
        if self._info is None:
            raise RuntimeError("the policy pack is not running; use PolicyPackProcess as a context manager")
        return self._info

    # lifecycle

    def __enter__(self) -> PolicyPackProcess:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> None:
        project = _load_project(self.pack_dir)
        engine_address = self._serve_engine()
        env = dict(os.environ)
        env.update(
            PULUMI_PROJECT=self.project,
            PULUMI_STACK=self.stack,
            PULUMI_ORGANIZATION=self.organization,
            PULUMI_DRY_RUN="true" if self.dry_run else "false",
        )
        env.pop("PULUMI_CONFIG", None)  # never inherit a caller's stack config
        if self.config is not None:
            env["PULUMI_CONFIG"] = json.dumps(self.config)
        argv = [self.python, "-u", "-m", "pulumi.policy", engine_address, str(self.pack_dir)]
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=self.pack_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group, stopped as a whole in close()
            )
        except OSError as err:
            raise PolicyPackError(f"policy pack {self.pack_dir} failed to start: {err}") from err
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._spawn(self._read_stdout, self._proc.stdout)
        self._spawn(self._read_stderr, self._proc.stderr)

        port = self._await_port()
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=_CHANNEL_OPTIONS)
        self._stub = analyzer_pb2_grpc.AnalyzerStub(self._channel)
        directory = str(self.pack_dir)
        # Python packs answer UNIMPLEMENTED to Handshake (and may to ConfigureStack): the CLI carries on.
        self._call(
            "Handshake",
            analyzer_pb2.AnalyzerHandshakeRequest(
                engine_address=engine_address, root_directory=directory, program_directory=directory
            ),
            optional=True,
        )
        self._call(
            "ConfigureStack",
            analyzer_pb2.AnalyzerStackConfigureRequest(
                stack=self.stack,
                project=self.project,
                organization=self.organization,
                dry_run=self.dry_run,
                config=self.config or {},
            ),
            optional=True,
        )
        self._info = self._read_info(self._call("GetAnalyzerInfo", empty_pb2.Empty()), project)

    def _serve_engine(self) -> str:
        self._executor = futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="policy-engine")
        self._server = grpc.server(self._executor, options=_CHANNEL_OPTIONS)
        engine_pb2_grpc.add_EngineServicer_to_server(_Engine(self.logs), self._server)
        port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        self.engine_address = f"127.0.0.1:{port}"
        return self.engine_address

    def _spawn(self, target: Callable[[IO[bytes]], None], stream: IO[bytes]) -> None:
        thread = threading.Thread(target=target, args=(stream,), name=f"policy-pack-{target.__name__}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _read_stdout(self, stream: IO[bytes]) -> None:
        first = True
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            if first:
                self._port_line.put(line)
                first = False
            elif line.strip():
                self.logs.append(line)
        if first:
            self._port_line.put(None)

    def _read_stderr(self, stream: IO[bytes]) -> None:
        for raw in iter(stream.readline, b""):
            line = raw.decode(errors="replace").rstrip("\r\n")
            self._stderr.append(line)
            if line.strip():
                self.logs.append(line)

    def _await_port(self) -> int:
        try:
            line = self._port_line.get(timeout=self.startup_timeout)
        except queue.Empty:
            self._fail(f"no port on stdout within {self.startup_timeout:g}s")
        if line is None:
            self._stop_process()
            assert self._proc is not None
            self._fail(f"exited with code {self._proc.returncode} before writing its port")
        try:
            port = int(line.strip())
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            self._fail(f"wrote an invalid port to stdout: {line!r}")
        return port

    def _fail(self, reason: str) -> NoReturn:
        self.close()  # joins the stderr reader, so the tail below is complete
        raise PolicyPackError(f"policy pack {self.pack_dir} failed to start: {reason}{self._stderr_tail()}")

    def _stderr_tail(self) -> str:
        lines = self._stderr[-_STDERR_TAIL_LINES:]
        if not any(line.strip() for line in lines):
            return "\n(stderr was empty)"
        return "\nstderr (last lines):\n" + "\n".join(lines)

    def _stop_process(self) -> None:
        proc = self._proc
        if proc is None or self._stopped:
            return
        self._stopped = True
        # The pack runs in its own session (start_new_session): signal the whole group, so
        # helpers it started die with it even after the pack itself has exited.
        _signal_group(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_TIMEOUT)
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_STOP_TIMEOUT)
        deadline = time.monotonic() + _STOP_TIMEOUT
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        if any(thread.is_alive() for thread in self._threads):
            # A process that left the group (setsid) still holds the pipes. Closing a stream
            # while its reader thread blocks in read() waits for that read forever, so leave the
            # daemon readers to the interpreter's exit instead.
            return
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        """Stop the pack and the engine service; safe to call more than once."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._stop_process()
        if self._server is not None:
            self._server.stop(grace=None).wait(timeout=_STOP_TIMEOUT)
            self._server = None
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # calls

    def _call(self, method: str, request: Any, *, optional: bool = False) -> Any:
        if self._stub is None:
            raise RuntimeError("the policy pack is not running; use PolicyPackProcess as a context manager")
        try:
            return getattr(self._stub, method)(request, timeout=_RPC_TIMEOUT)
        except grpc.RpcError as err:
            if optional and err.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None
            raise PolicyPackError(
                f"policy pack {self.pack_dir}: {method} failed: {err.code().name}: {err.details()}{self._stderr_tail()}"
            ) from err

    def _read_info(self, reply: analyzer_pb2.AnalyzerInfo, project: Mapping[str, Any]) -> PackInfo:
        policies = []
        for policy in reply.policies:
            schema: dict[str, Any] | None = None
            if reply.supportsConfig and policy.HasField("configSchema"):
                schema = {"type": "object", "properties": _plain(policy.configSchema.properties)}
                if policy.configSchema.required:
                    schema["required"] = list(policy.configSchema.required)
            policies.append(
                PolicyInfo(policy.name, policy.description, _LEVEL_FROM_WIRE[policy.enforcementLevel], schema)
            )
        initial = {
            name: {"enforcementLevel": _LEVEL_FROM_WIRE[entry.enforcementLevel], **_plain(entry.properties)}
            for name, entry in reply.initialConfig.items()
        }
        version = project.get("version")
        return PackInfo(
            name=reply.name,
            version=str(version) if version else reply.version,
            policies=tuple(sorted(policies, key=lambda p: p.name)),
            initial_config=initial,
        )

    def configure(self, config: Mapping[str, Mapping[str, Any]]) -> None:
        """Send Configure. Every entry needs a valid ``enforcementLevel``: the CLI refuses to send one
        without, and the pack would read the missing level as ``advisory``."""
        request = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, entry in config.items():
            props = dict(entry)
            level = props.pop("enforcementLevel", None)
            if level not in LEVELS:
                raise ValueError(
                    f"configure: {name}: enforcementLevel {level!r} is missing or invalid; "
                    "the pack would read it as advisory"
                )
            request.policyConfig[name].enforcementLevel = _LEVEL_TO_WIRE[level]
            request.policyConfig[name].properties.CopyFrom(_struct(props, skip_internal=False))
        if config:  # the CLI skips the call when there is no config
            self._call("Configure", request)

    def _resolve(self, resource: Resource) -> Resource:
        if resource.urn:
            return resource
        return replace(resource, urn=_urn(self.stack, self.project, resource.type, resource.name))

    def _options(self, resource: Resource) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(
            parent=resource.parent, customTimeouts=analyzer_pb2.AnalyzerResourceOptions.CustomTimeouts()
        )

    def _violations(
        self, reply: analyzer_pb2.AnalyzeResponse, urn_of: Any, *, remediate_is_mandatory: bool = True
    ) -> list[Violation]:
        out = []
        for diag in reply.diagnostics:
            level = _LEVEL_FROM_WIRE[diag.enforcementLevel]
            if remediate_is_mandatory and level == "remediate":
                level = "mandatory"  # a violation left after remediation blocks, as in the CLI
            out.append(
                Violation(diag.policyName, diag.description, diag.message, level, urn_of(diag.urn), diag.policyPackName)
            )
        return out

    def remediate(self, resource: Resource) -> tuple[Resource, list[Violation]]:
        """Remediate: the resource with every remediation applied in order, and an advisory
        violation per remediation that could not run (e.g. on unknown values during preview)."""
        resource = self._resolve(resource)
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            name=resource.name,
            urn=resource.urn,
            properties=_struct(resource.props, skip_internal=False),
            options=self._options(resource),
        )
        reply = self._call("Remediate", request, optional=True)
        violations = []
        for item in reply.remediations if reply is not None else ():
            if item.diagnostic:
                violations.append(
                    Violation(
                        item.policyName,
                        item.description,
                        item.diagnostic,
                        "advisory",
                        resource.urn,
                        item.policyPackName,
                    )
                )
            else:
                resource = replace(resource, props=_from_wire(_plain(item.properties)))
        return resource, violations

    def _analyze_only(self, resource: Resource) -> list[Violation]:
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            name=resource.name,
            urn=resource.urn,
            properties=_struct(resource.props, skip_internal=True),
            options=self._options(resource),
        )
        # The CLI files every resource-policy violation under the analyzed resource.
        return self._violations(self._call("Analyze", request), lambda _urn: resource.urn)

    def analyze(self, resource: Resource) -> list[Violation]:
        """What the CLI does per resource: Remediate, then Analyze the remediated properties."""
        remediated, violations = self.remediate(resource)
        return violations + self._analyze_only(remediated)

    def analyze_stack(self, resources: Sequence[Resource]) -> list[Violation]:
        """AnalyzeStack over all resources (the CLI sends their outputs, with parent and dependencies)."""
        resolved = [self._resolve(resource) for resource in resources]
        request = analyzer_pb2.AnalyzeStackRequest(
            resources=[
                analyzer_pb2.AnalyzerResource(
                    type=r.type,
                    name=r.name,
                    urn=r.urn,
                    properties=_struct(r.props, skip_internal=True),
                    options=self._options(r),
                    parent=r.parent,
                    dependencies=list(r.dependencies),
                )
                for r in resolved
            ]
        )
        reply = self._call("AnalyzeStack", request, optional=True)
        if reply is None:
            return []
        urns = {r.urn for r in resolved}
        root = _stack_urn(self.stack, self.project)
        return self._violations(reply, lambda urn: urn if urn in urns else root)


def run_pack(
    pack_dir: str | os.PathLike[str],
    resources: Iterable[Resource],
    config_file: Mapping[str, Any] | None = None,
    **kw: Any,
) -> list[Violation]:
    """The CLI's whole policy sequence over ``resources``: start the pack, read its info, reconcile
    and send the config, remediate and analyze each resource, then analyze the (remediated) stack.

    Every resource is analyzed and AnalyzeStack always runs, as in a preview; during ``pulumi up``
    the CLI would stop at the first mandatory resource violation. ``kw`` goes to PolicyPackProcess.
    """
    with PolicyPackProcess(pack_dir, **kw) as pack:
        pack.configure(reconcile_config(pack.info, config_file))
        return analyze_all(pack, resources)


def analyze_all(pack: PolicyPackProcess, resources: Iterable[Resource]) -> list[Violation]:
    """Remediate and analyze each resource, then analyze the (remediated) stack, on a configured pack."""
    violations: list[Violation] = []
    final: list[Resource] = []
    for resource in resources:
        remediated, found = pack.remediate(resource)
        violations += found + pack._analyze_only(remediated)
        final.append(remediated)
    return violations + pack.analyze_stack(final)
