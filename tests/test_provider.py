"""EgressRoute as the `istio-egress` multi-language package: its schema, and the plugin over gRPC.

The plugin runs once per module, started as the CLI starts it; every Construct is compared with
what the Python API registers for the same inputs under Pulumi's mocks. The snapshot of the schema
is regenerated only with ``UPDATE_GOLDEN=1``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import grpc
import pulumi
import pytest
from example_programs import Declared, typescript_declarations, yaml_declarations
from mocking import Registered, plain, run
from plugin_harness import UNKNOWN, Constructed, ProviderPlugin, Registration, property_errors, urn_type

import pulumi_istio_egress
from pulumi_istio_egress import (
    Dataplane,
    EgressLockdown,
    EgressLockdownArgs,
    EgressLockdownError,
    EgressRoute,
    EgressRouteArgs,
    EgressRouteError,
    InClusterEgress,
    TlsMode,
)
from pulumi_istio_egress.component import TYPE_TOKEN
from pulumi_istio_egress.provider import PACKAGE, schema

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "provider"
GOLDEN = Path(__file__).parent / "fixtures" / "provider" / "schema.json"
YAML_EXAMPLE = ROOT / "examples" / "yaml" / "Pulumi.yaml"
TS_EXAMPLE = ROOT / "examples" / "typescript"
TOKEN = "istio-egress:index:EgressRoute"
LOCKDOWN_TOKEN = "istio-egress:index:EgressLockdown"
DEPENDENCY = "urn:pulumi:stack::project::kubernetes:core/v1:Service::api"


def camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


SNAKE = {camel(field): field for field in EgressRouteArgs.__annotations__}


def python_args(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Schema-named inputs as EgressRouteArgs (an unknown name fails: the example would be wrong)."""
    return {SNAKE[key]: value for key, value in inputs.items()}


def examples() -> list[Declared]:
    _, from_yaml = yaml_declarations(YAML_EXAMPLE)
    return from_yaml + typescript_declarations(TS_EXAMPLE / "index.ts", f"@pulumi/{PACKAGE}")


EXAMPLES = examples()


def token_of(declared: Declared) -> str:
    """The token the engine sends for a declaration: YAML names it, the TypeScript SDK class maps to it."""
    return declared.type if ":" in declared.type else f"{PACKAGE}:index:{declared.type}"


def registered(construct: Constructed) -> dict[str, Registered]:
    """What the plugin registered, in the shape ``mocking`` records, by resource name."""
    result: dict[str, Registered] = {}
    for r in construct.registrations:
        assert r.name not in result, f"{r.name} registered twice"
        result[r.name] = Registered(r.type, r.name, urn_type(r.parent) if r.parent else "", plain(r.inputs))
    return result


def children(construct: Constructed) -> list[Registration]:
    return [r for r in construct.registrations if r.custom]


@pytest.fixture(scope="module")
def generated() -> dict[str, Any]:
    return schema()


@pytest.fixture(scope="module")
def plugin() -> Iterator[ProviderPlugin]:
    with ProviderPlugin(PLUGIN_DIR) as running:
        yield running


# --- the schema ----------------------------------------------------------------------------------


def test_schema_matches_snapshot(generated: dict[str, Any]) -> None:
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(json.dumps(generated, indent=2) + "\n", encoding="utf-8")
    assert generated == json.loads(GOLDEN.read_text(encoding="utf-8")), (
        f"the package schema changed; review it, then regenerate {GOLDEN} with UPDATE_GOLDEN=1"
    )


def test_schema_names_the_package_its_version_and_the_component_token(generated: dict[str, Any]) -> None:
    assert generated["name"] == PACKAGE
    assert generated["version"] == pulumi_istio_egress.__version__
    assert list(generated["resources"]) == [TOKEN, LOCKDOWN_TOKEN]
    assert TYPE_TOKEN == TOKEN  # the token the component registers itself under
    assert generated["resources"][TOKEN]["isComponent"] is True


def test_every_input_is_typed_described_and_required_as_in_the_args(generated: dict[str, Any]) -> None:
    resource = generated["resources"][TOKEN]
    inputs = resource["inputProperties"]
    assert set(inputs) == set(SNAKE)
    for name, prop in inputs.items():
        assert "type" in prop or "$ref" in prop, name
        assert prop.get("description", "").strip(), f"input {name} has no description"
    assert sorted(resource["requiredInputs"]) == sorted(camel(f) for f in EgressRouteArgs.__required_keys__)
    assert sorted(resource["requiredInputs"]) == ["clientNamespaces", "host", "tlsMode"]
    assert inputs["port"]["type"] == "integer"
    assert inputs["authorizationPolicy"]["type"] == "boolean"
    assert inputs["clientNamespaces"] == {**inputs["clientNamespaces"], "type": "array"}
    assert inputs["clientNamespaces"]["items"]["type"] == "string"
    assert inputs["gatewaySelector"]["additionalProperties"]["type"] == "string"


def test_every_output_is_typed_and_described(generated: dict[str, Any]) -> None:
    resource = generated["resources"][TOKEN]
    outputs = resource["properties"]
    declared = {camel(name) for name in EgressRoute.__annotations__}
    assert set(outputs) == declared
    assert sorted(resource["required"]) == sorted(declared)
    for name, prop in outputs.items():
        assert "type" in prop, name
        assert prop.get("description", "").strip(), f"output {name} has no description"
    assert outputs["objects"]["type"] == "array"


def test_tls_mode_is_a_described_string_enum(generated: dict[str, Any]) -> None:
    ref = generated["resources"][TOKEN]["inputProperties"]["tlsMode"]["$ref"]
    assert ref == f"#/types/{PACKAGE}:index:TlsMode"
    enum = generated["types"][f"{PACKAGE}:index:TlsMode"]
    assert enum["type"] == "string"
    assert [(v["name"], v["value"]) for v in enum["enum"]] == [(m.name, m.value) for m in TlsMode]
    assert all(v["description"].strip() for v in enum["enum"])


def test_descriptions_carry_no_source_indentation(generated: dict[str, Any]) -> None:
    # Go doc comments render indented lines as code blocks.
    text = json.dumps(generated)
    assert "\\n " not in text


# --- the plugin, as the CLI drives it ------------------------------------------------------------


def test_plugin_reports_its_version_and_serves_the_schema(plugin: ProviderPlugin, generated: dict[str, Any]) -> None:
    assert plugin.get_plugin_info() == pulumi_istio_egress.__version__
    assert plugin.get_schema() == generated
    configured = plugin.configure()
    assert (configured.acceptSecrets, configured.acceptResources, configured.acceptOutputs) == (True, True, True)


def test_examples_use_this_package_and_only_its_inputs(generated: dict[str, Any]) -> None:
    yaml_project, _ = yaml_declarations(YAML_EXAMPLE)
    ts_project, _ = yaml_declarations(TS_EXAMPLE / "Pulumi.yaml")
    for project, where in ((yaml_project, YAML_EXAMPLE.parent), (ts_project, TS_EXAMPLE)):
        assert (where / project["packages"][PACKAGE]).resolve() == PLUGIN_DIR
    assert sorted(d.where.rsplit("/", 2)[-2] for d in EXAMPLES) == ["typescript", "typescript", "yaml", "yaml"]
    inputs = generated["resources"][TOKEN]["inputProperties"]
    for declared in EXAMPLES:
        assert token_of(declared) in generated["resources"], declared.where
        # Construct ignores names the schema lacks, so a typo would otherwise pass unnoticed.
        assert set(declared.inputs) <= set(inputs), declared.where


@pytest.mark.parametrize("dry_run", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("declared", EXAMPLES, ids=[f"{d.where.rsplit('/', 2)[-2]}-{d.name}" for d in EXAMPLES])
def test_construct_registers_what_the_python_api_registers(
    plugin: ProviderPlugin, declared: Declared, dry_run: bool
) -> None:
    got = plugin.construct(token_of(declared), declared.name, declared.inputs, dry_run=dry_run)
    want = run(lambda: EgressRoute(declared.name, python_args(declared.inputs)), preview=dry_run)  # type: ignore[arg-type]

    assert registered(got) == {r.name: r for r in want.resources}
    assert got.urn == f"urn:pulumi:stack::project::{TOKEN}::{declared.name}"
    assert plain(got.outputs[got.urn]) == want.outputs[declared.name]
    assert plain(got.state) == {camel(key): value for key, value in want.outputs[declared.name].items()}
    assert [log for log in got.logs if log[0] in ("WARNING", "ERROR")] == []


@pytest.mark.parametrize(
    ("inputs", "field", "path"),
    [
        ({"host": "https://x", "tlsMode": "SIMPLE", "clientNamespaces": ["payments"]}, "host", "host"),
        (
            {"host": "api.stripe.com", "tlsMode": "SIMPLE", "clientNamespaces": ["Payments_NS"]},
            "client_namespaces",
            "clientNamespaces",
        ),
    ],
    ids=["host", "clientNamespaces"],
)
def test_bad_input_is_invalid_argument_naming_the_field(
    plugin: ProviderPlugin, inputs: dict[str, Any], field: str, path: str
) -> None:
    with pytest.raises(EgressRouteError) as python_error:
        run(lambda: EgressRoute("bad", python_args(inputs)))  # type: ignore[arg-type]
    with pytest.raises(grpc.RpcError) as caught:
        plugin.construct(TOKEN, "bad", inputs)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == str(python_error.value)  # the Python API's message, word for word
    assert error.details().startswith(f"EgressRoute 'bad': {field}=")
    assert "Traceback" not in error.details() and ".py" not in error.details()
    assert [p for p, _ in property_errors(error)] == [path]
    assert plugin.monitor.registrations == []  # refused before anything was registered


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        ({"host": "api.stripe.com", "clientNamespaces": ["payments"]}, "Missing required input 'tlsMode'"),
        ({"host": "api.stripe.com", "tlsMode": "TLS", "clientNamespaces": ["payments"]}, "Invalid value TLS"),
    ],
    ids=["missing", "not-an-enum-value"],
)
def test_schema_level_errors_are_invalid_argument_with_a_message(
    plugin: ProviderPlugin, inputs: dict[str, Any], reason: str
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        plugin.construct(TOKEN, "bad", inputs)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith(f"EgressRoute 'bad': {reason}")
    assert [p for p, _ in property_errors(error)] == ["tlsMode"]


def test_an_integer_from_another_resource_reaches_the_component(plugin: ProviderPlugin) -> None:
    # `port: service.port` in TypeScript: a known value that carries a dependency.
    inputs = {"host": "api.bank.example", "tlsMode": "MUTUAL", "clientNamespaces": ["payments"],
              "clientCredentialName": "bank-client-cert", "port": 8443}
    got = plugin.construct(TOKEN, "bank", inputs, input_dependencies={"port": [DEPENDENCY]})
    args = {**python_args(inputs), "port": pulumi.Output.from_input(8443)}
    want = run(lambda: EgressRoute("bank", args))  # type: ignore[arg-type]

    assert registered(got) == {r.name: r for r in want.resources}
    assert all(DEPENDENCY in child.dependencies for child in children(got))


def test_a_structural_input_from_another_resource_is_refused_clearly(plugin: ProviderPlugin) -> None:
    inputs = {"host": "api.stripe.com", "tlsMode": "SIMPLE", "clientNamespaces": ["payments"]}
    with pytest.raises(grpc.RpcError) as caught:
        plugin.construct(TOKEN, "dynamic", inputs, input_dependencies={"tlsMode": [DEPENDENCY]})
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "tls_mode=" in error.details() and "it decides which objects the route creates" in error.details()
    assert [p for p, _ in property_errors(error)] == ["tlsMode"]


def test_preview_with_a_host_not_known_yet_registers_every_object(plugin: ProviderPlugin) -> None:
    inputs = {"host": UNKNOWN, "tlsMode": "SIMPLE", "clientNamespaces": ["payments"]}
    got = plugin.construct(TOKEN, "later", inputs, dry_run=True, input_dependencies={"host": [DEPENDENCY]})
    known = run(lambda: EgressRoute("later", python_args({**inputs, "host": "api.example.com"})))  # type: ignore[arg-type]

    assert set(registered(got)) == {r.name for r in known.resources}
    for child in children(got):
        assert (child.inputs["metadata"], child.inputs["spec"]) == (UNKNOWN, UNKNOWN), child.name
        assert DEPENDENCY in child.dependencies
    assert got.state["objects"] == UNKNOWN


# --- dataplane AMBIENT over gRPC -------------------------------------------------------------------


def test_dataplane_is_a_described_plain_string_enum(generated: dict[str, Any]) -> None:
    inputs = generated["resources"][TOKEN]["inputProperties"]
    assert inputs["dataplane"]["$ref"] == f"#/types/{PACKAGE}:index:Dataplane"
    assert inputs["dataplane"]["plain"] is True  # it decides which objects exist
    assert inputs["waypoint"] == {**inputs["waypoint"], "type": "string", "plain": True}
    enum = generated["types"][f"{PACKAGE}:index:Dataplane"]
    assert [(v["name"], v["value"]) for v in enum["enum"]] == [(m.name, m.value) for m in Dataplane]
    assert all(v["description"].strip() for v in enum["enum"])


AMBIENT_INPUTS = [
    {"host": "api.stripe.com", "tlsMode": "SIMPLE", "clientNamespaces": ["payments"], "dataplane": "AMBIENT",
     "authorizationPolicy": True},
    {"host": "api.github.com", "tlsMode": "PASSTHROUGH", "clientNamespaces": ["ci"], "dataplane": "AMBIENT",
     "egressNamespace": "egress", "waypoint": "waypoint"},
]


@pytest.mark.parametrize("dry_run", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("inputs", AMBIENT_INPUTS, ids=["own-waypoint", "shared-waypoint"])
def test_construct_ambient_registers_what_the_python_api_registers(
    plugin: ProviderPlugin, inputs: dict[str, Any], dry_run: bool
) -> None:
    got = plugin.construct(TOKEN, "ambient", inputs, dry_run=dry_run)
    want = run(lambda: EgressRoute("ambient", python_args(inputs)), preview=dry_run)  # type: ignore[arg-type]

    assert registered(got) == {r.name: r for r in want.resources}
    kinds = sorted(r.type for r in children(got))
    assert kinds == sorted(f"kubernetes:{o.split()[0]}" for o in [
        *(["gateway.networking.k8s.io/v1:Gateway"] if "waypoint" not in inputs else []),
        "networking.istio.io/v1:ServiceEntry",
        *(["networking.istio.io/v1:DestinationRule"] if inputs["tlsMode"] != "PASSTHROUGH" else []),
        *(["security.istio.io/v1:AuthorizationPolicy"] if inputs.get("authorizationPolicy") else []),
    ])
    assert plain(got.state) == {camel(key): value for key, value in want.outputs["ambient"].items()}


def test_ambient_bad_input_is_invalid_argument_naming_the_field(plugin: ProviderPlugin) -> None:
    inputs = {"host": "api.stripe.com", "tlsMode": "SIMPLE", "clientNamespaces": ["payments"],
              "dataplane": "AMBIENT", "terminateCredentialName": "inspect-cert"}
    with pytest.raises(grpc.RpcError) as caught:
        plugin.construct(TOKEN, "bad", inputs)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "EgressRoute 'bad': terminate_credential_name='inspect-cert' is invalid: an ambient waypoint cannot "
        "terminate the app's TLS (its only listener is HBONE). Fix: let apps speak plain HTTP (SIMPLE "
        "origination), use PASSTHROUGH, or use dataplane SIDECAR")
    assert [p for p, _ in property_errors(error)] == ["terminateCredentialName"]
    assert plugin.monitor.registrations == []


GATEWAY_API_INPUTS = {
    "passthrough": {"host": "edition.cnn.com", "tlsMode": "PASSTHROUGH", "clientNamespaces": ["default"],
                    "api": "GATEWAY_API"},
    "mutual": {"host": "nginx.example.com", "tlsMode": "MUTUAL", "clientNamespaces": ["default"],
               "api": "GATEWAY_API", "clientCredentialName": "client-credential", "gatewayNamespace": "egress"},
}


@pytest.mark.parametrize("dry_run", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("inputs", GATEWAY_API_INPUTS.values(), ids=GATEWAY_API_INPUTS.keys())
def test_construct_with_the_gateway_api(plugin: ProviderPlugin, inputs: dict[str, Any], dry_run: bool) -> None:
    got = plugin.construct(TOKEN, "route", inputs, dry_run=dry_run)
    want = run(lambda: EgressRoute("route", python_args(inputs)), preview=dry_run)  # type: ignore[arg-type]

    assert registered(got) == {r.name: r for r in want.resources}
    kinds = sorted({r.type.rsplit(":", 1)[-1] for r in want.resources if r.type != TOKEN})
    assert kinds == (["DestinationRule", "Gateway", "ServiceEntry", "TLSRoute"] if inputs["tlsMode"] == "PASSTHROUGH"
                     else ["DestinationRule", "Gateway", "HTTPRoute", "Role", "RoleBinding", "ServiceEntry"])
    assert plain(got.outputs[got.urn]) == want.outputs["route"]


# --- EgressLockdown in the same package ----------------------------------------------------------

LOCKDOWN_SNAKE = {camel(field): field for field in EgressLockdownArgs.__annotations__}


def lockdown_args(inputs: Mapping[str, Any]) -> dict[str, Any]:
    return {LOCKDOWN_SNAKE[key]: value for key, value in inputs.items()}


def test_lockdown_schema_inputs_outputs_and_enum(generated: dict[str, Any]) -> None:
    resource = generated["resources"][LOCKDOWN_TOKEN]
    assert resource["isComponent"] is True
    inputs = resource["inputProperties"]
    assert set(inputs) == set(LOCKDOWN_SNAKE)
    assert all(prop.get("description", "").strip() for prop in inputs.values())
    assert resource["requiredInputs"] == ["namespace"]
    assert inputs["allowCidrs"]["items"]["type"] == "string"
    assert inputs["gatewayTargetPorts"]["items"]["type"] == "integer"
    assert inputs["sidecar"] == {**inputs["sidecar"], "type": "boolean", "plain": True}
    assert set(resource["properties"]) == {camel(name) for name in EgressLockdown.__annotations__}
    enum = generated["types"][f"{PACKAGE}:index:InClusterEgress"]
    assert [(v["name"], v["value"]) for v in enum["enum"]] == [(m.name, m.value) for m in InClusterEgress]


LOCKDOWN_INPUTS = [
    {"namespace": "payments"},
    {"namespace": "ci", "inCluster": "GATEWAY_AND_ISTIOD", "gatewayTargetPorts": [8443],
     "allowCidrs": ["10.0.0.1/32"], "importNamespaces": ["monitoring"]},
    {"namespace": "batch", "sidecar": False},
]


@pytest.mark.parametrize("dry_run", [False, True], ids=["up", "preview"])
@pytest.mark.parametrize("inputs", LOCKDOWN_INPUTS, ids=[i["namespace"] for i in LOCKDOWN_INPUTS])
def test_lockdown_construct_registers_what_the_python_api_registers(
    plugin: ProviderPlugin, inputs: dict[str, Any], dry_run: bool
) -> None:
    name = inputs["namespace"]
    got = plugin.construct(LOCKDOWN_TOKEN, name, inputs, dry_run=dry_run)
    want = run(lambda: EgressLockdown(name, lockdown_args(inputs)), preview=dry_run)  # type: ignore[arg-type]

    assert registered(got) == {r.name: r for r in want.resources}
    assert sorted(r.type for r in children(got)) == sorted(
        ["kubernetes:networking.k8s.io/v1:NetworkPolicy"] + (["kubernetes:networking.istio.io/v1:Sidecar"]
                                                             if inputs.get("sidecar", True) else []))
    assert got.urn == f"urn:pulumi:stack::project::{LOCKDOWN_TOKEN}::{name}"
    assert plain(got.state) == {camel(key): value for key, value in want.outputs[name].items()}
    assert [log for log in got.logs if log[0] in ("WARNING", "ERROR")] == []


def test_lockdown_bad_input_is_invalid_argument_naming_the_field(plugin: ProviderPlugin) -> None:
    inputs = {"namespace": "payments", "allowCidrs": ["0.0.0.0/0"]}
    with pytest.raises(EgressLockdownError) as python_error:
        run(lambda: EgressLockdown("bad", lockdown_args(inputs)))  # type: ignore[arg-type]
    with pytest.raises(grpc.RpcError) as caught:
        plugin.construct(LOCKDOWN_TOKEN, "bad", inputs)
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == str(python_error.value)
    assert error.details().startswith("EgressLockdown 'bad': allow_cidrs='0.0.0.0/0' is invalid: ")
    assert [p for p, _ in property_errors(error)] == ["allowCidrs"]
    assert plugin.monitor.registrations == []


def test_lockdown_missing_namespace_is_invalid_argument(plugin: ProviderPlugin) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        plugin.construct(LOCKDOWN_TOKEN, "bad", {"sidecar": True})
    error: Any = caught.value
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("EgressLockdown 'bad': Missing required input 'namespace'")
