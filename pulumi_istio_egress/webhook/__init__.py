"""istiod's validating-webhook checks, run on a manifest before it reaches a cluster.

``webhook_findings(manifest)`` reports what istiod's admission webhook (``pkg/config/validation``,
Istio 1.30) would reject for ServiceEntry, Gateway, DestinationRule, VirtualService, Sidecar and
AuthorizationPolicy, so ``pulumi preview`` fails where ``kubectl apply`` would. The CRD schema and
its CEL rules are a separate module; where cheap, these checks overlap with them. Only errors are
reported: istiod's warnings do not block an apply.

Every check reads the manifest defensively. A field of the wrong JSON type is reported (the API
server would reject it) and the checks that need it are skipped; nothing raises.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..findings import Finding
from ._walk import Report, sub
from .authorization import check_authorization_policy
from .destinationrule import check_destination_rule
from .gateway import check_gateway
from .serviceentry import check_service_entry
from .sidecar import check_sidecar
from .virtualservice import check_virtual_service

__all__ = ["WEBHOOK_KINDS", "webhook_findings"]

Check = Callable[[Report, Mapping[str, Any]], None]

# istiod matches on group and kind, whatever the version (v1, v1beta1, v1alpha3).
_CHECKS: dict[tuple[str, str], Check] = {
    ("networking.istio.io", "ServiceEntry"): check_service_entry,
    ("networking.istio.io", "Gateway"): check_gateway,
    ("networking.istio.io", "DestinationRule"): check_destination_rule,
    ("networking.istio.io", "VirtualService"): check_virtual_service,
    ("networking.istio.io", "Sidecar"): check_sidecar,
    ("security.istio.io", "AuthorizationPolicy"): check_authorization_policy,
}

WEBHOOK_KINDS: frozenset[str] = frozenset(kind for _, kind in _CHECKS)
"""The kinds :func:`webhook_findings` checks (in the Istio API groups only: a Kubernetes Gateway API
``Gateway`` is not an Istio ``Gateway``)."""

_DRY_RUN = "istio.io/dry-run"
_ALWAYS_REJECT = "internal.istio.io/webhook-always-reject"
_INTERNAL = ("internal.istio.io/parent-namespace", "internal.istio.io/parents")
_BUGS = (TypeError, ValueError, KeyError, IndexError, AttributeError, ArithmeticError, RecursionError)
_GO_BOOLS = frozenset({"1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"})


def webhook_findings(manifest: Mapping[str, Any]) -> list[Finding]:
    """What istiod's validating webhook would reject in ``manifest``; ``[]`` for kinds it does not check."""
    if not isinstance(manifest, Mapping):
        return []
    kind, api_version = manifest.get("kind"), manifest.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return []
    check = _CHECKS.get((api_version.rpartition("/")[0], kind))
    if check is None:
        return []
    r = _report(manifest)
    spec = manifest.get("spec")
    if spec is not None and not isinstance(spec, Mapping):
        r.wrong_type("spec", spec, "object")
        return r.result()
    try:
        _check_annotations(r, kind, spec or {})
        check(r, spec or {})
    except _BUGS as error:
        # A bug here must not take `pulumi preview` down with it. Other exceptions propagate on purpose:
        # pulumi-policy's UnknownValueError (an unknown value during preview) must reach pulumi-policy.
        r.add(
            "spec",
            None,
            f"the webhook checks stopped early ({type(error).__name__}: {error})",
            "Report this manifest to the pulumi-istio-egress maintainers; istiod will still judge it at apply",
        )
    return r.result()


def _report(manifest: Mapping[str, Any]) -> Report:
    meta = manifest.get("metadata")
    holder = Report("default", None, {}, {})
    if meta is not None and not isinstance(meta, Mapping):
        holder.wrong_type("metadata", meta, "object")
        meta = None
    name = holder.string(meta, "name", "metadata")
    namespace = holder.string(meta, "namespace", "metadata") or "default"
    labels = holder.str_map(meta, "labels", "metadata")
    annotations = holder.str_map(meta, "annotations", "metadata")
    r = Report(namespace, name, labels, annotations)
    r.findings.extend(holder.findings)
    return r


def _check_annotations(r: Report, kind: str, spec: Mapping[str, Any]) -> None:
    """istiod's metadata checks, run before the kind's own checks."""
    where = sub("metadata", "annotations")
    ref = f"{r.namespace}/{r.name or ''}"
    if _DRY_RUN in r.annotations:
        value = r.annotations[_DRY_RUN]
        if kind != "AuthorizationPolicy":
            r.add(
                sub(where, _DRY_RUN),
                value,
                f"{ref} has unsupported annotation {_DRY_RUN}, please remove the annotation",
                f"Remove the {_DRY_RUN} annotation; only AuthorizationPolicy supports it",
            )
        else:
            action = spec.get("action") or "ALLOW"
            if action not in ("ALLOW", "DENY"):
                r.add(
                    sub(where, _DRY_RUN),
                    value,
                    f"the annotation {_DRY_RUN} currently only supports action "
                    f"ALLOW/DENY, found action {action} in {ref}",
                    f"Remove the {_DRY_RUN} annotation",
                )
            elif value not in _GO_BOOLS:
                r.add(
                    sub(where, _DRY_RUN),
                    value,
                    f"{ref} has annotation {_DRY_RUN} with invalid value ({value}): "
                    f'strconv.ParseBool: parsing "{value}": invalid syntax',
                    'Set the annotation to "true" or "false"',
                )
    if _ALWAYS_REJECT in r.annotations:
        r.add(
            sub(where, _ALWAYS_REJECT),
            r.annotations[_ALWAYS_REJECT],
            f'"{_ALWAYS_REJECT}" annotation found, rejecting',
            f"Remove the {_ALWAYS_REJECT} annotation",
        )
    for key in _INTERNAL:
        if key in r.annotations:
            r.add(
                sub(where, key),
                r.annotations[key],
                f'"{key}" annotation found, this may not be set by users',
                f"Remove the {key} annotation; istiod sets it on objects it generates",
            )
