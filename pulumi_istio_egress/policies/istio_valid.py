"""istio-valid: reject at preview what Istio would reject at apply.

Layer 1 is our own rendition of istiod's validating webhook (``webhook``), always on. Layer 2 is
the API server's view: the openAPIV3Schema and CEL rules of the cluster's own Istio CRDs
(``conformance``), on when ``crdFiles`` or ``$ISTIO_CRDS`` names them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..findings import Finding, Manifest
from ..names import ISTIO_CRDS_ENV
from ..webhook import webhook_findings
from .objects import kind_of, string_list
from .rule import Config, ResourceRule

if TYPE_CHECKING:
    from ..conformance import CrdSet

# From names, not conformance: the CEL machinery costs half a second of pack start-up and is
# loaded only when CRDs are configured.
CRDS_ENV = ISTIO_CRDS_ENV
KINDS = ("ServiceEntry", "Gateway", "DestinationRule", "VirtualService", "Sidecar", "AuthorizationPolicy")


# -- the CRD layer, shared with gateway-api-valid (each names its own CRDs and variable) -----------


def crd_paths(config: Config, env: str = CRDS_ENV) -> tuple[str, ...]:
    """CRD files from the rule's config, else from ``$<env>`` (``os.pathsep``-separated; ``$ISTIO_CRDS`` here)."""
    paths = string_list(config, "crdFiles")
    if not paths and os.environ.get(env):
        paths = os.environ[env].split(os.pathsep)
    return tuple(paths)


@lru_cache(maxsize=4)
def load_crds(paths: Sequence[str]) -> CrdSet:
    """Loading the CRDs takes a while; a pack process loads each set once."""
    from ..conformance import CrdSet

    return CrdSet.load(*paths)


def loaded_crds(paths: Sequence[str], what: str, env: str) -> CrdSet | Finding:
    """The CRD set, or the finding that says why ``what`` CRDs (``Istio``, ``Gateway API``) did not load."""
    try:
        return load_crds(paths)
    except (OSError, ValueError) as error:
        return Finding("", None, f"cannot load the {what} CRDs {list(paths)} (relative paths start at the policy "
                       f"pack directory): {error}", f"point crdFiles or ${env} at readable CRD files")


def crd_files_config(description: str) -> dict[str, Any]:
    """The ``crdFiles`` config schema of a rule with a CRD layer."""
    return {"crdFiles": {"type": "array", "items": {"type": "string"}, "default": [], "description": description}}


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    if kind_of(manifest) not in KINDS:
        return
    findings = list(webhook_findings(manifest))
    paths = crd_paths(config)
    if paths:
        crds = loaded_crds(paths, "Istio", CRDS_ENV)
        if isinstance(crds, Finding):
            yield from findings
            yield crds
            return
        findings = one_per_value(findings, crds.validate(manifest))
    yield from findings


def one_per_value(webhook: list[Finding], schema: list[Finding]) -> list[Finding]:
    """Both layers' findings, each refused value once. When both refuse the value at one path, it
    is one fact in two wordings; the CRD layer's is kept, because the API server validates an
    object against its CRD before it calls istiod's webhook, so that is what ``kubectl apply`` says.
    The API server's note that CEL rules went unchecked, and a check this validator could not
    evaluate, refuse no value: they never stand in for a webhook finding."""
    from ..conformance.messages import RULES_NOT_CHECKED, is_unevaluated

    refused = {f.path for f in schema if f.message != RULES_NOT_CHECKED and not is_unevaluated(f)}
    return [f for f in webhook if f.path not in refused] + schema


def applies(manifest: Manifest, config: Config) -> str | None:
    return None if kind_of(manifest) in KINDS else f"istio-valid judges only {', '.join(KINDS)}"


def note(config: Config) -> str | None:
    """Said once per run: without CRDs only layer 1 judged."""
    if crd_paths(config):
        return None
    return ("istio-valid judged {count} object(s) with istiod's webhook rules only: no Istio CRDs were configured, "
            "so the CRD schema and CEL layer did not run. Fix: set istio-valid's crdFiles (e.g. the output of "
            "`kubectl get crd -o yaml`) or $ISTIO_CRDS")


RULE = ResourceRule(
    name="istio-valid",
    description="Istio objects pass istiod's validation and, with crdFiles, the cluster's CRD schemas and CEL rules.",
    severity="critical",
    enforcement="mandatory",
    check=check,
    applies=applies,
    note=note,
    config_schema=crd_files_config("Istio CRD files (e.g. `kubectl get crd -o yaml` output) for schema and CEL "
                                   "checks. Unset: $ISTIO_CRDS, else only the webhook rules run."),
)
