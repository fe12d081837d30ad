"""gateway-api-valid: reject at preview what the API server would reject of Gateway API objects.

The sibling of ``istio-valid`` for ``gateway.networking.k8s.io`` kinds (Gateway, HTTPRoute, TLSRoute,
ReferenceGrant, ...): their CRDs' openAPIV3Schema, defaults and CEL rules (``conformance``), when
``crdFiles`` or ``$GATEWAY_API_CRDS`` names the cluster's Gateway API CRDs. There is no webhook
layer: Gateway API moved all of its validation into the CRDs (CEL) and retired its webhook. Without
CRDs this rule judges nothing, and its note says so once per run.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from . import istio_valid
from .rule import Config, ResourceRule

CRDS_ENV = "GATEWAY_API_CRDS"
GROUPS = ("gateway.networking.k8s.io", "gateway.networking.x-k8s.io")


def is_gateway_api(manifest: Manifest) -> bool:
    api = manifest.get("apiVersion") if isinstance(manifest, dict) else None
    return isinstance(api, str) and api.rpartition("/")[0] in GROUPS


def crd_paths(config: Config) -> tuple[str, ...]:
    """CRD files from the rule's config, else from ``$GATEWAY_API_CRDS`` (``os.pathsep``-separated)."""
    return istio_valid.crd_paths(config, CRDS_ENV)


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if not is_gateway_api(manifest):
        return
    paths = crd_paths(config)
    if not paths:
        return  # not judged: the note says so
    crds = istio_valid.loaded_crds(paths, "Gateway API", CRDS_ENV)
    if isinstance(crds, Finding):
        yield crds
        return
    yield from crds.validate(manifest)


def applies(manifest: Manifest, config: Config) -> str | None:
    return None if is_gateway_api(manifest) else f"gateway-api-valid judges only {' and '.join(GROUPS)} kinds"


def note(config: Config) -> str | None:
    """Said once per run: without CRDs nothing was judged."""
    if crd_paths(config):
        return None
    return ("gateway-api-valid did not judge {count} Gateway API object(s): no Gateway API CRDs were configured. "
            "Fix: set gateway-api-valid's crdFiles (e.g. the output of `kubectl get crd -o yaml`) or $GATEWAY_API_CRDS")


RULE = ResourceRule(
    name="gateway-api-valid",
    description="Gateway API objects pass the cluster's Gateway API CRD schemas and CEL rules (with crdFiles).",
    severity="critical",
    enforcement="mandatory",
    check=check,
    applies=applies,
    note=note,
    config_schema=istio_valid.crd_files_config(
        "Gateway API CRD files (e.g. the release's experimental-install.yaml, or `kubectl get crd -o yaml` output) "
        "for schema and CEL checks. Unset: $GATEWAY_API_CRDS, else not judged."),
)
