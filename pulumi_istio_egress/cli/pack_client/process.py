"""Drive a Python pulumi-policy pack over the Analyzer gRPC protocol, the way the Pulumi CLI does.

The CLI never imports a policy pack: it starts ``python -u -m pulumi.policy <engine> <pack-dir>``
with the pack directory as working directory, reads the port from the first stdout line and talks
gRPC: Handshake -> ConfigureStack -> GetAnalyzerInfo -> Configure -> (Remediate, Analyze) per
resource -> AnalyzeStack. :class:`PolicyPackProcess` does the same without the CLI, serving the small
Engine service the pack may call back into, and :func:`reconcile_config` applies the CLI's rules for
``--policy-pack-config``. Facts come from pulumi/pulumi ``pkg/resource/plugin/analyzer_plugin.go``,
``pkg/resource/analyzer/config.go``, ``pkg/resource/deploy/step_generator.go`` and the installed
``pulumi_policy`` server.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc, engine_pb2_grpc

from ...plugin_process import PluginProcess, PluginStartError
from .config import reconcile_config
from .engine import _Engine
from .wire import (
    _LEVEL_FROM_WIRE,
    _LEVEL_TO_WIRE,
    LEVELS,
    PackInfo,
    PolicyInfo,
    Resource,
    Violation,
    _from_wire,
    _plain,
    _stack_urn,
    _struct,
    _urn,
)

# Same ceiling as the policy SDK's server, so a large AnalyzeStack is not refused client side.
_MAX_MESSAGE = 400 * 1024 * 1024
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", _MAX_MESSAGE),
    ("grpc.max_send_message_length", _MAX_MESSAGE),
]
_RPC_TIMEOUT = 120.0
_STOP_TIMEOUT = 5.0
ANALYZE_WINDOW = 64
"""Resources whose Remediate/Analyze calls are in flight at once in :func:`analyze_all`: the
per-resource round trips overlap instead of waiting for each other (issue 17)."""


class PolicyPackError(RuntimeError):
    """The pack could not be started or an Analyzer call failed; the message carries its stderr tail."""


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
        self._info: PackInfo | None = None
        self._process: PluginProcess | None = None
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
        self._process = PluginProcess(argv, cwd=self.pack_dir, env=env, on_output=self.logs.append)
        try:
            self._process.start()
        except OSError as err:
            raise PolicyPackError(f"policy pack {self.pack_dir} failed to start: {err}") from err
        try:
            port = self._process.await_port(self.startup_timeout)
        except PluginStartError as err:
            self.close()
            raise PolicyPackError(f"policy pack {self.pack_dir} failed to start: {err}") from None
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

    def _stderr_tail(self) -> str:
        return self._process.stderr_tail() if self._process is not None else "\n(stderr was empty)"

    def close(self) -> None:
        """Stop the pack and the engine service; safe to call more than once."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            self._process.stop(_STOP_TIMEOUT)
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
            return self._failed(method, err, optional=optional)

    def _failed(self, method: str, err: grpc.RpcError, *, optional: bool) -> None:
        if optional and err.code() == grpc.StatusCode.UNIMPLEMENTED:
            return None
        raise PolicyPackError(
            f"policy pack {self.pack_dir}: {method} failed: {err.code().name}: {err.details()}{self._stderr_tail()}"
        ) from err

    def _send(self, method: str, request: Any) -> Any:
        """Start a call without waiting for it: a grpc future."""
        if self._stub is None:
            raise RuntimeError("the policy pack is not running; use PolicyPackProcess as a context manager")
        return getattr(self._stub, method).future(request, timeout=_RPC_TIMEOUT)

    def _wait(self, method: str, pending: Any, *, optional: bool = False) -> Any:
        """The reply of a call started by :meth:`_send`, failing as :meth:`_call` does."""
        try:
            return pending.result()
        except grpc.RpcError as err:
            return self._failed(method, err, optional=optional)

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

    def _request(self, resource: Resource, *, skip_internal: bool) -> analyzer_pb2.AnalyzeRequest:
        return analyzer_pb2.AnalyzeRequest(
            type=resource.type,
            name=resource.name,
            urn=resource.urn,
            properties=_struct(resource.props, skip_internal=skip_internal),
            options=self._options(resource),
        )

    def _remediated(self, resource: Resource, reply: Any) -> tuple[Resource, list[Violation]]:
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

    def _analyzed(self, resource: Resource, reply: analyzer_pb2.AnalyzeResponse) -> list[Violation]:
        # The CLI files every resource-policy violation under the analyzed resource.
        return self._violations(reply, lambda _urn: resource.urn)

    def remediate(self, resource: Resource) -> tuple[Resource, list[Violation]]:
        """Remediate: the resource with every remediation applied in order, and an advisory
        violation per remediation that could not run (e.g. on unknown values during preview)."""
        resource = self._resolve(resource)
        reply = self._call("Remediate", self._request(resource, skip_internal=False), optional=True)
        return self._remediated(resource, reply)

    def _analyze_only(self, resource: Resource) -> list[Violation]:
        return self._analyzed(resource, self._call("Analyze", self._request(resource, skip_internal=True)))

    def analyze(self, resource: Resource) -> list[Violation]:
        """What the CLI does per resource: Remediate, then Analyze the remediated properties."""
        remediated, violations = self.remediate(resource)
        return violations + self._analyze_only(remediated)

    def analyze_each(
        self, resources: Iterable[Resource], *, window: int = ANALYZE_WINDOW
    ) -> Iterator[tuple[Resource, list[Violation]]]:
        """:meth:`analyze` for every resource, pipelined: up to ``window`` resources have their
        Remediate or Analyze call in flight at once (the pack's server answers them on its own
        thread pool), so the per-resource round trips overlap. Yields each resource as remediated
        and its violations, in input order, exactly what calling :meth:`analyze` in turn returns."""
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        remediating: deque[tuple[Resource, Any]] = deque()
        analyzing: deque[tuple[Resource, list[Violation], Any]] = deque()

        def analyze_next() -> None:
            resource, pending = remediating.popleft()
            remediated, found = self._remediated(resource, self._wait("Remediate", pending, optional=True))
            analyzing.append((remediated, found, self._send("Analyze", self._request(remediated, skip_internal=True))))

        def finish_next() -> tuple[Resource, list[Violation]]:
            remediated, found, pending = analyzing.popleft()
            return remediated, found + self._analyzed(remediated, self._wait("Analyze", pending))

        try:
            for resource in resources:
                resolved = self._resolve(resource)
                remediating.append((resolved, self._send("Remediate", self._request(resolved, skip_internal=False))))
                while remediating and remediating[0][1].done():  # start each Analyze as soon as it can
                    analyze_next()
                while len(remediating) + len(analyzing) > window:
                    if analyzing:
                        yield finish_next()
                    else:
                        analyze_next()
            while remediating:
                analyze_next()
            while analyzing:
                yield finish_next()
        finally:
            for _, pending in remediating:
                pending.cancel()
            for _, _, pending in analyzing:
                pending.cancel()

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
    """Remediate and analyze each resource (pipelined, see :meth:`PolicyPackProcess.analyze_each`),
    then analyze the (remediated) stack, on a configured pack."""
    violations: list[Violation] = []
    final: list[Resource] = []
    for remediated, found in pack.analyze_each(resources):
        violations += found
        final.append(remediated)
    return violations + pack.analyze_stack(final)
