"""Every example program and the root project: rendered offline, golden, and accepted by Istio."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from pulumi_istio_egress.conformance import CrdSet
from pulumi_istio_egress.render import render_program, to_yaml
from pulumi_istio_egress.webhook import webhook_findings

ROOT = Path(__file__).parents[1]
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
PROGRAMS = {"root": ROOT} | {
    p.name: p for p in sorted((ROOT / "examples").iterdir()) if (p / "__main__.py").is_file()
}
CRDS = Path(os.environ.get("ISTIO_CRDS", ROOT.parent / "shared" / "reference" / "istio-crds" / "crd-all.gen.yaml"))


@pytest.fixture(scope="module")
def crds() -> CrdSet:
    assert CRDS.is_file(), f"Istio CRDs not found at {CRDS}: set ISTIO_CRDS (the conformance check must run)"
    return CrdSet.load(CRDS)


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
    manifests = list(yaml.safe_load_all(text))
    assert manifests
    problems = {f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}":
                [*crds.validate(m), *webhook_findings(m)] for m in manifests}
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
