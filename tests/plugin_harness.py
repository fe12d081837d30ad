"""Run a Pulumi provider plugin the way the CLI does and talk to it over gRPC.

``ProviderPlugin`` starts ``python <plugin dir> <engine address>`` in the plugin directory (what
the Python language host runs for a source-based plugin with a ``__main__.py``), reads the gRPC
port from the first line of stdout, and calls the ``ResourceProvider`` service. The process itself
is run by the library's :class:`pulumi_istio_egress.plugin_process.PluginProcess`, the same code
that runs a policy pack for ``check``. It also serves the
two services a component provider calls back into, on 127.0.0.1:

* ``FakeEngine`` records ``Log`` calls;
* ``FakeResourceMonitor`` records every ``RegisterResource`` / ``RegisterResourceOutputs`` of a
  ``Construct`` and answers with engine-shaped URNs (ids and echoed inputs for custom resources).
  Like the engine, and unlike Pulumi's mocks, it rejects a duplicate URN.

Not reproduced: ``runtime.options`` of PulumiPlugin.yaml (pass ``python=``), CheckConfig, and
the monitor's invokes, calls, reads and packages (answered UNIMPLEMENTED, so a plugin that needs
them fails loudly).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime.proto import (
    engine_pb2,
    engine_pb2_grpc,
    errors_pb2,
    provider_pb2,
    provider_pb2_grpc,
    resource_pb2,
    resource_pb2_grpc,
    status_pb2,
)

from pulumi_istio_egress.plugin_process import PluginProcess, PluginStartError

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
"""How the engine spells a value not known yet (during preview) in a protobuf Struct."""

_RPC_TIMEOUT = 30.0

# What a current engine's resource monitor reports (GetDeploymentInfo) or answers (SupportsFeature).
_FEATURES = {
    "secrets": resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS,
    "resourceReferences": resource_pb2.RESOURCE_MONITOR_FEATURE_RESOURCE_REFERENCES,
    "outputValues": resource_pb2.RESOURCE_MONITOR_FEATURE_OUTPUT_VALUES,
    "aliasSpecs": resource_pb2.RESOURCE_MONITOR_FEATURE_ALIAS_SPECS,
    "deletedWith": resource_pb2.RESOURCE_MONITOR_FEATURE_DELETED_WITH,
    "transforms": resource_pb2.RESOURCE_MONITOR_FEATURE_TRANSFORMS,
    "invokeTransforms": resource_pb2.RESOURCE_MONITOR_FEATURE_INVOKE_TRANSFORMS,
    "parameterization": resource_pb2.RESOURCE_MONITOR_FEATURE_PARAMETERIZATION,
}


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """A protobuf Struct of plain JSON-like values (numbers travel as doubles, as from the engine)."""
    result = struct_pb2.Struct()
    result.update(values)
    return result


def plain(value: struct_pb2.Struct) -> dict[str, Any]:
    """A Struct as a dict; Pulumi's special values (secrets, unknowns) are left as they travel."""
    return dict(json_format.MessageToDict(value))


def urn_type(urn: str) -> str:
    """The resource type in a URN (the last one of a parent-qualified type chain)."""
    return urn.split("::")[2].split("$")[-1]


def stack_urn(project: str, stack: str) -> str:
    return f"urn:pulumi:{stack}::{project}::pulumi:pulumi:Stack::{project}-{stack}"


def property_errors(error: grpc.RpcError) -> list[tuple[str, str]]:
    """The ``(property path, reason)`` pairs a provider attached to an INVALID_ARGUMENT error."""
    found: list[tuple[str, str]] = []
    metadata: Iterable[tuple[str, Any]] = error.trailing_metadata() or ()
    for key, value in metadata:
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            errors = errors_pb2.InputPropertiesError()
            if detail.Unpack(errors):
                found.extend((e.property_path, e.reason) for e in errors.errors)
    return found


@dataclass(frozen=True)
class Registration:
    """One RegisterResource call, as the monitor saw it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: tuple[str, ...]


@dataclass
class Constructed:
    """What one Construct produced: its answer and everything registered while it ran."""

    urn: str
    state: dict[str, Any]
    registrations: list[Registration]
    outputs: dict[str, dict[str, Any]]
    """RegisterResourceOutputs by URN."""
    logs: list[tuple[str, str]]
    """Engine Log calls as ``(severity, message)``."""


class FakeEngine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.logs: list[tuple[str, str]] = []
        self._root = ""

    def Log(self, request: engine_pb2.LogRequest, context: Any) -> empty_pb2.Empty:
        self.logs.append((engine_pb2.LogSeverity.Name(request.severity), request.message))
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> engine_pb2.GetRootResourceResponse:
        return engine_pb2.GetRootResourceResponse(urn=self._root)

    def SetRootResource(self, request: Any, context: Any) -> engine_pb2.SetRootResourceResponse:
        self._root = request.urn
        return engine_pb2.SetRootResourceResponse()


class FakeResourceMonitor(resource_pb2_grpc.ResourceMonitorServicer):
    def __init__(self) -> None:
        self.project, self.stack, self.dry_run = "project", "stack", False
        self.registrations: list[Registration] = []
        self.outputs: dict[str, dict[str, Any]] = {}
        """RegisterResourceOutputs by URN."""
        self._lock = threading.Lock()

    def reset(self, *, project: str, stack: str, dry_run: bool) -> None:
        """Forget earlier registrations and serve a new deployment."""
        with self._lock:
            self.project, self.stack, self.dry_run = project, stack, dry_run
            self.registrations = []
            self.outputs = {}

    def GetDeploymentInfo(self, request: Any, context: Any) -> resource_pb2.DeploymentInfo:
        return resource_pb2.DeploymentInfo(
            project=self.project,
            stack=self.stack,
            dryRun=self.dry_run,
            supportedFeatures=sorted(_FEATURES.values()),
        )

    def SupportsFeature(
        self, request: resource_pb2.SupportsFeatureRequest, context: Any
    ) -> resource_pb2.SupportsFeatureResponse:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in _FEATURES)

    def RegisterResource(
        self, request: resource_pb2.RegisterResourceRequest, context: Any
    ) -> resource_pb2.RegisterResourceResponse:
        # A child's URN carries its parent's type chain; the stack's type is left out of it.
        qualified = request.type
        if request.parent and urn_type(request.parent) != "pulumi:pulumi:Stack":
            qualified = f"{request.parent.split('::')[2]}${request.type}"
        urn = f"urn:pulumi:{self.stack}::{self.project}::{qualified}::{request.name}"
        with self._lock:
            if any(r.urn == urn for r in self.registrations):
                context.abort(grpc.StatusCode.ALREADY_EXISTS, f"Duplicate resource URN '{urn}'")
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=urn,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=plain(request.object),
                    dependencies=tuple(request.dependencies),
                )
            )
        if not request.custom:
            return resource_pb2.RegisterResourceResponse(urn=urn)
        # Outputs = inputs, as from a provider that computes nothing; a preview has no ids yet.
        resource_id = "" if self.dry_run else f"{request.name}-id"
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=request.object)

    def RegisterResourceOutputs(
        self, request: resource_pb2.RegisterResourceOutputsRequest, context: Any
    ) -> empty_pb2.Empty:
        with self._lock:
            self.outputs[request.urn] = plain(request.outputs)
        return empty_pb2.Empty()


class PluginError(RuntimeError):
    pass


class ProviderPlugin:
    """A provider plugin process plus the engine and monitor it calls back into.

    Use as a context manager; one process serves any number of calls (the CLI also keeps one
    plugin per package for a whole deployment).
    """

    def __init__(self, plugin_dir: str | os.PathLike[str], *, python: str = sys.executable) -> None:
        self.plugin_dir = Path(plugin_dir).resolve()
        self.python = python
        self.engine = FakeEngine()
        self.monitor = FakeResourceMonitor()
        self.engine_address = ""
        self.monitor_address = ""
        self._servers: list[grpc.Server] = []
        self._process: PluginProcess | None = None
        self._channel: grpc.Channel | None = None
        self._stub: provider_pb2_grpc.ResourceProviderStub | None = None
        self.handshake: provider_pb2.ProviderHandshakeResponse | None = None
        """The Handshake answer; None when unimplemented, as in Python plugins (the CLI carries on)."""

    def __enter__(self) -> ProviderPlugin:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the calls the CLI makes ------------------------------------------------------------------

    def get_plugin_info(self) -> str:
        """The plugin's version."""
        return str(self._call("GetPluginInfo", empty_pb2.Empty()).version)

    def get_schema(self) -> dict[str, Any]:
        reply = self._call("GetSchema", provider_pb2.GetSchemaRequest(version=0))
        schema: dict[str, Any] = json.loads(reply.schema)
        return schema

    def configure(self) -> provider_pb2.ConfigureResponse:
        request = provider_pb2.ConfigureRequest(acceptSecrets=True, acceptResources=True)
        reply: provider_pb2.ConfigureResponse = self._call("Configure", request)
        return reply

    def construct(
        self,
        type_: str,
        name: str,
        inputs: Mapping[str, Any],
        *,
        project: str = "project",
        stack: str = "stack",
        dry_run: bool = False,
        input_dependencies: Mapping[str, list[str]] | None = None,
    ) -> Constructed:
        """Construct a component at the top of the stack; raises ``grpc.RpcError`` if it fails."""
        self.monitor.reset(project=project, stack=stack, dry_run=dry_run)
        self.engine.logs.clear()
        request = provider_pb2.ConstructRequest(
            project=project,
            stack=stack,
            organization="organization",
            dryRun=dry_run,
            parallel=16,
            monitorEndpoint=self.monitor_address,
            type=type_,
            name=name,
            parent=stack_urn(project, stack),
            inputs=struct(inputs),
            inputDependencies={
                key: provider_pb2.ConstructRequest.PropertyDependencies(urns=urns)
                for key, urns in (input_dependencies or {}).items()
            },
            accepts_output_values=True,
        )
        reply: provider_pb2.ConstructResponse = self._call("Construct", request, wrap_errors=False)
        return Constructed(
            urn=reply.urn,
            state=plain(reply.state),
            registrations=list(self.monitor.registrations),
            outputs=dict(self.monitor.outputs),
            logs=list(self.engine.logs),
        )

    # -- lifecycle --------------------------------------------------------------------------------

    def _start(self) -> None:
        runtime = yaml.safe_load((self.plugin_dir / "PulumiPlugin.yaml").read_text(encoding="utf-8"))["runtime"]
        if (runtime.get("name") if isinstance(runtime, dict) else runtime) != "python":
            raise PluginError(f"{self.plugin_dir}: only Python plugins are supported, runtime is {runtime!r}")
        self.engine_address = self._serve(engine_pb2_grpc.add_EngineServicer_to_server, self.engine)
        self.monitor_address = self._serve(resource_pb2_grpc.add_ResourceMonitorServicer_to_server, self.monitor)
        self._process = PluginProcess([self.python, str(self.plugin_dir), self.engine_address], cwd=self.plugin_dir)
        self._process.start()
        try:
            port = self._process.await_port(timeout=60.0)
        except PluginStartError as err:
            raise PluginError(f"{self.plugin_dir}: {err}") from None
        self._channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        self._stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        directory = str(self.plugin_dir)
        self.handshake = self._call(
            "Handshake",
            provider_pb2.ProviderHandshakeRequest(
                engine_address=self.engine_address, root_directory=directory, program_directory=directory
            ),
            optional=True,
        )

    def _serve(self, add: Any, servicer: Any) -> str:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        add(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._servers.append(server)
        return f"127.0.0.1:{port}"

    def _tail(self) -> str:
        return self._process.stderr_tail() if self._process is not None else "\n(stderr was empty)"

    def close(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self._process is not None:
            self._process.stop()
        for server in self._servers:
            server.stop(grace=None).wait()
        self._servers = []

    # -- plumbing ---------------------------------------------------------------------------------

    def _call(self, method: str, request: Any, *, wrap_errors: bool = True, optional: bool = False) -> Any:
        if self._stub is None:
            raise PluginError("the plugin is not running; use ProviderPlugin as a context manager")
        try:
            return getattr(self._stub, method)(request, timeout=_RPC_TIMEOUT)
        except grpc.RpcError as err:
            if optional and err.code() == grpc.StatusCode.UNIMPLEMENTED:
                return None
            if not wrap_errors:
                raise
            raise PluginError(f"{method} failed: {err.code().name}: {err.details()}{self._tail()}") from err
