"""Property-based robustness: whatever users, YAML or other tools hand us, we either accept it and produce
objects Istio and our own policies accept, or refuse it with an EgressRouteError; the rules and the pack never
crash on malformed objects; rendering is byte-for-byte deterministic.

Example counts are bounded so the file stays well under a minute on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mocking import Registered, run
from strategies import (
    SECRET_KEY,
    config_maps,
    garbage,
    gateway_services,
    hostile_args,
    malformed_manifests,
    valid_args,
    yaml_texts,
)

from pulumi_istio_egress import (
    EgressRoute,
    EgressRouteError,
    Finding,
    Route,
    lockdown_manifests,
    parse_lockdown,
    parse_route,
    route_manifests,
)
from pulumi_istio_egress.cli import kubeyaml, program_process
from pulumi_istio_egress.cli.pack_client import UNKNOWN, PolicyPackProcess, Resource, Secret, reconcile_config
from pulumi_istio_egress.cli.render import RenderError, to_yaml
from pulumi_istio_egress.component import TYPE_TOKEN
from pulumi_istio_egress.conformance import CrdSet
from pulumi_istio_egress.findings import Manifest
from pulumi_istio_egress.policies import RESOURCE_RULES, STACK_RULES
from pulumi_istio_egress.webhook import webhook_findings

ROOT = Path(__file__).parents[1]
CRDS_PATH = Path(os.environ.get("ISTIO_CRDS") or ROOT.parent / "shared" / "reference" / "istio-crds" /
                 "crd-all.gen.yaml")


def bounded(examples: int) -> settings:
    """No deadline: CRD/CEL checks of big objects vary with machine load; the example count bounds the time."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def crds() -> CrdSet:
    assert CRDS_PATH.is_file(), f"Istio CRDs not found at {CRDS_PATH}: set ISTIO_CRDS"
    return CrdSet.load(CRDS_PATH)


def rule_config(rule: Any, manifests: list[Manifest]) -> dict[str, Any]:
    """Each rule's defaults; allowed-ports, configured with 80 and 443, also allows the ports the route uses."""
    config: dict[str, Any] = rule.defaults()
    if rule.name == "allowed-ports":
        used = {p["number"] for m in manifests if m["kind"] == "ServiceEntry" for p in m["spec"]["ports"]}
        config["allowedPorts"] = sorted({80, 443, *used})
    return config


def lockdowns(route: Route) -> list[Manifest]:
    """The EgressLockdown of each client namespace, which egress-lockdown asks for next to every route."""
    gateway = {"gateway_namespace": route.gateway_namespace}
    return [m for ns in route.client_namespaces if ns != route.gateway_namespace
            for m in lockdown_manifests(parse_lockdown({"namespace": ns, **gateway}))]


def problems(manifests: list[Manifest], crds: CrdSet, locked: list[Manifest] | None = None) -> list[str]:
    """Everything any of our checks says about a route's objects: [] means Istio and our policies accept them.
    ``locked``: the lockdowns of its client namespaces, seen by the stack rules only."""
    found: list[str] = []
    for m in manifests:
        where = f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}"
        found += [f"{where}: crd: {f.render()}" for f in crds.validate(m)]
        found += [f"{where}: webhook: {f.render()}" for f in webhook_findings(m)]
        for rule in RESOURCE_RULES:
            found += [f"{where}: {rule.name}: {f.render()}" for f in rule.check(m, rule_config(rule, manifests))]
    for stack_rule in STACK_RULES:
        found += [f"stack {stack_rule.name}: {f.render()}"
                  for _, f in stack_rule.check(manifests + (locked or []), stack_rule.defaults())]
    return found


def accepted_or_refused(args: Any, crds: CrdSet) -> None:
    """The contract of parse_route: an EgressRouteError (a ValueError) and nothing else, or a route whose
    objects every check accepts."""
    try:
        route = parse_route(args)
    except EgressRouteError as error:
        assert isinstance(error, ValueError)
        assert str(error)  # names field, value and fix
        return
    manifests = route_manifests(route)
    assert problems(manifests, crds, lockdowns(route)) == [], f"accepted {args!r} but its objects are not valid"


# --- the validator's contract ---------------------------------------------------------------------


@bounded(100)
@given(valid_args())
def test_plausible_args_are_refused_cleanly_or_produce_valid_objects(crds: CrdSet, args: dict[str, Any]) -> None:
    accepted_or_refused(args, crds)


@bounded(60)
@given(valid_args())
def test_args_following_every_documented_rule_are_accepted(args: dict[str, Any]) -> None:
    # Also guards the test above against a generator that only ever exercises the refusal path.
    parse_route(args)


@bounded(150)
@given(hostile_args())
def test_hostile_args_are_refused_with_egress_route_error_only(crds: CrdSet, args: Any) -> None:
    accepted_or_refused(args, crds)


@bounded(40)
@given(valid_args().flatmap(lambda args: st.tuples(
    st.just(args), gateway_services(args.get("gateway_namespace", "istio-system")))))
def test_any_gateway_service_the_validator_accepts_is_one_the_policies_accept(
        crds: CrdSet, case: tuple[dict[str, Any], str]) -> None:
    # The docstring of `names`: "a value the component accepts is one the policy pack accepts". Istio and the
    # stack rules need <name>.<gateway_namespace>.svc.<domain>: a short name resolves per namespace, another
    # host is not the gateway, another namespace is not where the route's objects are.
    args, service = case
    accepted_or_refused({**args, "gateway_service": service}, crds)


# --- the component under mocks --------------------------------------------------------------------


def register(args: Any) -> tuple[list[Registered], BaseException | None]:
    """Declare one EgressRoute under fresh mocks; what was registered, and what the declaration raised."""
    raised: list[BaseException] = []

    def program() -> None:
        try:
            EgressRoute("r", args)
        except Exception as error:  # recorded, then judged outside Pulumi's runtime
            raised.append(error)

    return run(program).resources, raised[0] if raised else None


@bounded(25)
@given(st.one_of(hostile_args().filter(lambda a: isinstance(a, Mapping)), valid_args()))
def test_component_registers_nothing_on_refused_args_and_everything_on_accepted(args: Any) -> None:
    try:
        expected = route_manifests(parse_route(args))
    except EgressRouteError:
        expected = None
    resources, raised = register(args)
    if expected is None:
        assert isinstance(raised, EgressRouteError), raised
        assert resources == []
    else:
        assert raised is None
        children = sorted((r.inputs["kind"], r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"])
                          for r in resources if r.parent == TYPE_TOKEN)
        assert children == sorted((m["kind"], m["metadata"]["namespace"], m["metadata"]["name"]) for m in expected)
        assert len(resources) == len(expected) + 1


@bounded(10)
@given(garbage.filter(lambda a: not isinstance(a, Mapping)))
def test_component_refuses_args_that_are_not_a_mapping_with_egress_route_error(args: Any) -> None:
    # parse_route says "it is not a mapping"; the component must say the same, not crash on args.get.
    resources, raised = register(args)
    assert isinstance(raised, EgressRouteError), repr(raised)
    assert resources == []


# --- malformed objects through every rule ------------------------------------------------------------


def all_findings(manifest: Any, crd_files: list[str]) -> Iterator[Finding]:
    for rule in RESOURCE_RULES:
        config = rule.defaults()
        if rule.name == "istio-valid":
            config["crdFiles"] = crd_files
        if rule.name == "audited-hosts-require-simple":
            config["auditedHosts"] = ["api.stripe.com", "*.bank.example", "*"]
        yield from rule.check(manifest, config)


@bounded(150)
@given(malformed_manifests())
def test_resource_rules_never_raise_on_malformed_objects(crds: CrdSet, manifest: dict[str, Any]) -> None:
    for finding in all_findings(manifest, [str(CRDS_PATH)]):
        assert isinstance(finding, Finding)
        assert isinstance(finding.path, str) and isinstance(finding.message, str)
    assert all(isinstance(f, Finding) for f in webhook_findings(manifest))
    assert all(isinstance(f, Finding) for f in crds.validate(manifest))


@bounded(40)
@given(st.lists(malformed_manifests(), max_size=12), st.lists(st.sampled_from(range(4)), max_size=3))
def test_stack_rules_never_raise_on_malformed_stacks(manifests: list[dict[str, Any]], valid_routes: list[int]) -> None:
    from strategies import _route_examples  # whole valid routes next to the broken ones

    stack = manifests + [m for i in valid_routes for m in _route_examples[i]]
    for rule in STACK_RULES:
        for config in (rule.defaults(), {**rule.defaults(), "rootNamespace": "payments"}):
            for manifest, finding in rule.check(stack, config):
                assert isinstance(finding, Finding)
                assert manifest is None or isinstance(manifest, dict)


@bounded(30)
@given(st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.none(), max_size=2)),
                max_size=5))
def test_rules_accept_non_dict_objects(items: list[Any]) -> None:
    for item in items:
        list(all_findings(item, []))
    for rule in STACK_RULES:
        list(rule.check(items, rule.defaults()))


# --- the policy pack over gRPC ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pack() -> Iterator[PolicyPackProcess]:
    env_before = os.environ.get("ISTIO_CRDS")
    os.environ["ISTIO_CRDS"] = str(CRDS_PATH)  # the pack inherits it: the CRD layer runs too
    try:
        with PolicyPackProcess(ROOT / "policy") as running:
            running.configure(reconcile_config(running.info, None))
            yield running
    finally:
        if env_before is None:
            os.environ.pop("ISTIO_CRDS", None)
        else:
            os.environ["ISTIO_CRDS"] = env_before


def preview_values(value: Any, draw: st.DrawFn) -> Any:
    """The same object with some values unknown (preview) or secret, as the engine would send them."""
    choice = draw(st.integers(min_value=0, max_value=9))
    if choice == 0:
        return UNKNOWN
    if choice == 1:
        return Secret(value)
    if isinstance(value, dict):
        return {k: preview_values(v, draw) for k, v in value.items()}
    if isinstance(value, list):
        return [preview_values(v, draw) for v in value]
    return value


def as_engine_sends(value: Any) -> Any:
    """A raw secret-signature dict is not something the engine sends (the SDK refuses it): use Secret."""
    if isinstance(value, dict):
        if SECRET_KEY in value:
            return Secret(as_engine_sends(value.get("value")))
        return {k: as_engine_sends(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_engine_sends(v) for v in value]
    return value


@st.composite
def pack_resources(draw: st.DrawFn) -> Resource:
    manifest = as_engine_sends(draw(malformed_manifests(finite=True)))
    api, kind = manifest.get("apiVersion"), manifest.get("kind")
    group_version = api if isinstance(api, str) and "/" in api else "core/v1"
    type_ = f"kubernetes:{group_version}:{kind if isinstance(kind, str) and kind else 'Thing'}"
    # Top-level props stay a mapping, as the engine always sends an object.
    props = {k: preview_values(v, draw) for k, v in manifest.items()} if draw(st.booleans()) else manifest
    return Resource(type=type_, name=f"r{draw(st.integers(0, 10**6))}", props=props)


def crashed(violations: list[Any]) -> list[str]:
    """The pack reports a rule's own exception as a violation instead of failing: find those."""
    return [v.message for v in violations if " failed: " in v.message and "report this" in v.message]


@bounded(8)
@given(st.lists(pack_resources(), min_size=1, max_size=4))
def test_pack_survives_malformed_unknown_and_secret_values(pack: PolicyPackProcess, resources: list[Resource]) -> None:
    for resource in resources:
        assert crashed(pack.analyze(resource)) == []
    assert crashed(pack.analyze_stack(resources)) == []


# --- determinism --------------------------------------------------------------------------------------

_RENDER = ("import sys; from pulumi_istio_egress.cli.render import render_program, to_yaml; "
           "sys.stdout.buffer.write(to_yaml(o.manifest for o in render_program(sys.argv[1], stack='dev')).encode())")


def test_render_is_byte_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run([sys.executable, "-c", _RENDER, str(ROOT)], env=env, cwd=tmp_path,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        outputs.append(done.stdout)
    assert outputs[0], "the root project rendered nothing"
    assert outputs[0] == outputs[1]


# --- reading manifests as kubectl does, and the program's result pipe (issue 12) -------------------


@bounded(300)
@given(yaml_texts())
def test_any_yaml_text_is_read_or_refused_with_manifest_error_only(text: str) -> None:
    try:
        items = kubeyaml.read(text)
    except kubeyaml.ManifestError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(i.manifest.get("kind"), str) for i in items)


@bounded(200)
@given(config_maps())
def test_rendered_yaml_reads_back_identically_under_kubectl_rules(manifest: dict[str, Any]) -> None:
    assert [i.manifest for i in kubeyaml.read(to_yaml([manifest]))] == [manifest]


@bounded(200)
@given(st.binary(max_size=200)
       | st.builds(lambda n, b: b"R %d\n" % n + b, st.integers(0, 300), st.binary(max_size=200)))
def test_whatever_a_child_hands_back_is_objects_or_a_render_error(raw: bytes) -> None:
    try:
        objects = program_process._decode(raw)
    except RenderError:
        return
    assert isinstance(objects, list)


@bounded(50)
@given(st.lists(st.binary(max_size=64), max_size=8))
def test_the_result_reader_never_raises_and_stops_at_eof(chunks: list[bytes]) -> None:
    read_fd, write_fd = os.pipe()
    for chunk in chunks:
        os.write(write_fd, chunk)
    os.close(write_fd)
    box: list[bytes] = []
    program_process._read_result(read_fd, time.monotonic() + 5, box, None)
    os.close(read_fd)
    assert len(box) == 1 and box[0] in b"".join(chunks)  # what is left after the progress lines
