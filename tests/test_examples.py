"""Every example program and the root project: rendered offline, golden, and accepted by Istio."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from gateway_api_crds import channel_path
from kubernetes_types import network_policy_problems

from pulumi_istio_egress.cli.render import render_program, to_yaml
from pulumi_istio_egress.conformance import CrdSet
from pulumi_istio_egress.webhook import webhook_findings

ROOT = Path(__file__).parents[1]
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
PROGRAMS = {"root": ROOT} | {
    p.name: p for p in sorted((ROOT / "examples").iterdir()) if (p / "__main__.py").is_file()
}
CRDS = Path(os.environ.get("ISTIO_CRDS", ROOT.parent / "shared" / "reference" / "istio-crds" / "crd-all.gen.yaml"))
# The ambient example's waypoint and the gateway-api example's Gateways and routes are Gateway API objects.
GATEWAY_API_CRDS = channel_path("standard")


@pytest.fixture(scope="module")
def crds() -> CrdSet:
    assert CRDS.is_file(), f"Istio CRDs not found at {CRDS}: set ISTIO_CRDS (the conformance check must run)"
    assert GATEWAY_API_CRDS.is_file(), f"Gateway API CRDs not found at {GATEWAY_API_CRDS}: set GATEWAY_API_CRDS_DIR"
    return CrdSet.load(CRDS, GATEWAY_API_CRDS)


def _checked(manifest: dict[str, object]) -> bool:
    """Custom resources; core Kubernetes kinds (RBAC) have no CRD to check them against."""
    return not str(manifest["apiVersion"]).startswith("rbac.authorization.k8s.io/")


@pytest.fixture(scope="module", params=sorted(PROGRAMS))
def rendered(request: pytest.FixtureRequest) -> tuple[str, str]:
    name = request.param
    return name, to_yaml(o.manifest for o in render_program(PROGRAMS[name]))


def test_matches_golden(rendered: tuple[str, str]) -> None:
    name, text = rendered
    golden = GOLDEN / f"{name}.yaml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert text == golden.read_text()


def test_every_manifest_passes_the_crds_and_the_webhook(rendered: tuple[str, str], crds: CrdSet) -> None:
    _, text = rendered
    manifests = [m for m in yaml.safe_load_all(text) if _checked(m)]
    assert manifests
    # NetworkPolicy is Kubernetes' own kind, not an Istio CRD: pulumi-kubernetes' types check it.
    problems = {f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}":
                network_policy_problems(m) if m["kind"] == "NetworkPolicy"
                else [*crds.validate(m), *webhook_findings(m)] for m in manifests}
    assert problems == {ref: [] for ref in problems}


def test_rendering_twice_is_byte_identical(rendered: tuple[str, str]) -> None:
    name, text = rendered
    assert to_yaml(o.manifest for o in render_program(PROGRAMS[name])) == text


ROUTES = sorted((Path(__file__).parent / "fixtures" / "routes").glob("*.yaml"))


@pytest.mark.parametrize("path", ROUTES, ids=[p.stem for p in ROUTES])
def test_every_pattern_passes_the_crds_and_the_webhook(path: Path, crds: CrdSet) -> None:
    manifests = [e["manifest"] for e in yaml.safe_load(path.read_text())["expected"]]
    problems = {f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}":
                [*crds.validate(m), *webhook_findings(m)] for m in manifests}
    assert problems == {ref: [] for ref in problems}


ROOT_CONFIG = Path(__file__).parent / "fixtures" / "root-config"
BAD_ROOT_CONFIG = [
    # In the stack config's terms: the key, `field: value` as YAML, no Python types (pulumi.RunError).
    ("bad-host", 'program raised RunError: istio-egress:routes.stripe: host: "https://api.stripe.com" is invalid: '
     "it has a URL scheme. Fix: pass the bare host name 'api.stripe.com' (at __main__.py:47)"),
    ("not-a-map", "program raised RunError: istio-egress:routes.stripe: api.stripe.com is invalid: it is "
     "not a map of EgressRouteArgs fields. Fix: give host, tls_mode and client_namespaces as a map "
     "(at __main__.py:26)"),
    ("empty-routes", "program raised RunError: istio-egress:routes: [] is invalid: it is not a non-empty map "
     "of route name to fields. Fix: write it as a map, e.g. {stripe: {host: api.stripe.com, tls_mode: SIMPLE, "
     "client_namespaces: [payments]}} (at __main__.py:26)"),
    ("bad-lockdown", "program raised RunError: istio-egress:lockdowns.payments: allow_cidrs: \"0.0.0.0/0\" is invalid: "
     "it allows every address, which undoes the lockdown. Fix: list only the networks outside the cluster "
     "the pods must reach directly (e.g. the API server); reach external hosts through an EgressRoute "
     "(at __main__.py:63)"),
    ("lockdowns-not-a-map", "program raised RunError: istio-egress:lockdowns: [\"payments\"] is invalid: it "
     "is not a map of lockdown name to fields. Fix: write it as a map, e.g. {payments: {namespace: payments}} "
     "(at __main__.py:26)"),
]


@pytest.mark.parametrize(("name", "message"), BAD_ROOT_CONFIG, ids=[n for n, _ in BAD_ROOT_CONFIG])
def test_root_project_refuses_bad_stack_config(name: str, message: str) -> None:
    from pulumi_istio_egress.cli.render import RenderError

    with pytest.raises(RenderError) as caught:
        render_program(ROOT, config_file=str(ROOT_CONFIG / f"{name}.yaml"))
    assert str(caught.value) == message
