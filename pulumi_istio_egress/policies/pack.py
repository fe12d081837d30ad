"""The thin shell: our rules as pulumi-policy policies.

Props arrive wrapped in pulumi-policy's proxies, with sentinel strings for values unknown during
preview. We copy them into plain dicts, run the pure rule, drop findings about unknown values,
report the rest, and then let pulumi-policy say (advisory) which values could not be judged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError, _is_unknown

from ..findings import Finding, Manifest, object_ref
from . import RESOURCE_RULES, STACK_RULES, gateway_api_valid, istio_valid
from .objects import kind_of
from .rule import ResourceRule, StackRule

PACK_NAME = "istio-egress"


def to_manifest(resource_type: str, props: Any) -> tuple[Manifest, list[tuple[str, str]]]:
    """A plain manifest from pulumi-kubernetes props, plus ``(path, sentinel)`` for unknown values.

    ``apiVersion``/``kind`` come from the props (CustomResource, YAML) or else the type token
    ``kubernetes:<group>/<version>:<Kind>``.
    """
    unknown: list[tuple[str, str]] = []
    manifest = _plain(props, "", unknown)
    if not isinstance(manifest, dict):
        manifest = {}
    parts = resource_type.split(":")
    if len(parts) == 3 and parts[0] == "kubernetes":
        manifest.setdefault("apiVersion", parts[1].removeprefix("core/"))
        manifest.setdefault("kind", parts[2])
    return manifest, unknown


def _plain(value: Any, path: str, unknown: list[tuple[str, str]]) -> Any:
    target = _target(value)
    if isinstance(target, dict):
        return {str(k): _plain(_raw(target, k), _join(path, str(k)), unknown) for k in list(target)}
    if isinstance(target, list):
        return [_plain(_raw(target, i), f"{path}[{i}]", unknown) for i in range(len(target))]
    if _is_unknown(target):
        unknown.append((path, str(target)))
        return None
    return target


def _target(value: Any) -> Any:
    """The dict/list behind a pulumi-policy proxy (they hide unknowns behind item access)."""
    try:
        return value["__target"] if type(value).__name__ in ("_DictProxy", "_ListProxy") else value
    except Exception:
        return value


def _raw(container: Any, key: Any) -> Any:
    try:
        return container[key]
    except UnknownValueError as error:
        return error.unknown_type_sentinel


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _judgeable(findings: Iterable[Finding], unknown: list[tuple[str, str]]) -> list[Finding]:
    """Findings that are not about a value unknown during preview (or something inside one)."""
    prefixes = [p for p, _ in unknown]
    return [f for f in findings
            if not any(f.path == p or f.path.startswith((p + ".", p + "[")) for p in prefixes)]


def _raise_unknown(unknown: list[tuple[str, str]]) -> None:
    if unknown:
        path, sentinel = unknown[0]
        raise UnknownValueError(sentinel, path.replace("[", ".").replace("]", "").split("."))


def message(finding: Finding, manifest: Manifest | None = None) -> str:
    where = f"{object_ref(manifest)}: " if manifest is not None else ""
    return where + finding.render()


def _safe(rule_name: str, run: Any) -> list[Any]:
    """A policy that crashes blocks every deploy: report a rule's own failure instead."""
    try:
        return list(run())
    except Exception as error:
        return [Finding("", None, f"rule {rule_name} failed: {type(error).__name__}: {error}",
                        "report this to the policy pack's maintainers")]


def resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not args.resource_type.startswith("kubernetes:"):
            return
        manifest, unknown = to_manifest(args.resource_type, args.props)
        config = dict(rule.defaults(), **_config(args))
        for finding in _judgeable(_safe(rule.name, lambda: rule.check(manifest, config)), unknown):
            report(message(finding), None)
        if rule is istio_valid.RULE and kind_of(manifest) in istio_valid.KINDS:
            _note_missing_crds(config)
        if (rule is gateway_api_valid.RULE and gateway_api_valid.is_gateway_api(manifest)
                and not gateway_api_valid.crd_paths(config)):
            _CrdLayer.gateway_api_without_crds += 1
        _raise_unknown(unknown)

    return ResourceValidationPolicy(
        name=rule.name, description=rule.description, validate=validate,
        enforcement_level=EnforcementLevel(rule.enforcement), severity=Severity(rule.severity),
        config_schema=PolicyConfigSchema(properties=_schema(rule.config_schema)) if rule.config_schema else None,
    )


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        manifests: list[Manifest] = []
        urns: dict[int, str] = {}
        unknown_anywhere: list[tuple[str, str]] = []
        for resource in args.resources:
            if not resource.resource_type.startswith("kubernetes:"):
                continue
            manifest, unknown = to_manifest(resource.resource_type, resource.props)
            manifests.append(manifest)
            urns[id(manifest)] = resource.urn
            unknown_anywhere += unknown
        config = dict(rule.defaults(), **_config(args))
        for item in _safe(rule.name, lambda: rule.check(manifests, config)):
            manifest, finding = item if isinstance(item, tuple) else (None, item)
            urn = urns.get(id(manifest)) if manifest is not None else None
            # With a URN the CLI names the object itself; without one the message must.
            report(message(finding, None if urn else manifest), urn)
        _raise_unknown(unknown_anywhere)

    return StackValidationPolicy(
        name=rule.name, description=rule.description, validate=validate,
        enforcement_level=EnforcementLevel(rule.enforcement), severity=Severity(rule.severity),
        config_schema=PolicyConfigSchema(properties=_schema(rule.config_schema)) if rule.config_schema else None,
    )


def _config(args: ResourceValidationArgs | StackValidationArgs) -> dict[str, Any]:
    try:
        config = args.get_config()
    except Exception:
        return {}
    return {k: v for k, v in config.items() if k != "enforcementLevel"} if isinstance(config, Mapping) else {}


def _schema(properties: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: dict(v) for k, v in properties.items()}


class _CrdLayer:
    """What istio-valid saw in this pack process: how many Istio objects it judged with the webhook
    rules only, because no CRDs were configured. Resource policies run before stack policies, so
    the coverage policy below can say so once, at the end of the run."""

    without_crds = 0
    gateway_api_without_crds = 0  # likewise for gateway-api-valid, which judges nothing without CRDs


def _note_missing_crds(config: Mapping[str, Any]) -> None:
    if not istio_valid.crd_paths(config):
        _CrdLayer.without_crds += 1


COVERAGE = "istio-valid-coverage"


def coverage_policy() -> StackValidationPolicy:
    """Advisory: says once when istio-valid's CRD schema and CEL layer did not run."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        if _CrdLayer.without_crds:
            report(f"istio-valid judged {_CrdLayer.without_crds} object(s) with istiod's webhook rules only: no "
                   "Istio CRDs were configured, so the CRD schema and CEL layer did not run. Fix: set istio-valid's "
                   "crdFiles (e.g. the output of `kubectl get crd -o yaml`) or $ISTIO_CRDS", None)
        if _CrdLayer.gateway_api_without_crds:
            report(f"gateway-api-valid did not judge {_CrdLayer.gateway_api_without_crds} Gateway API object(s): no "
                   "Gateway API CRDs were configured. Fix: set gateway-api-valid's crdFiles (e.g. the output of "
                   "`kubectl get crd -o yaml`) or $GATEWAY_API_CRDS", None)

    return StackValidationPolicy(
        name=COVERAGE, description="Says when istio-valid or gateway-api-valid ran without the cluster's CRDs.",
        validate=validate, enforcement_level=EnforcementLevel.ADVISORY, severity=Severity.LOW,
    )


def policies(resource_rules: Sequence[ResourceRule] = RESOURCE_RULES,
             stack_rules: Sequence[StackRule] = STACK_RULES) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """pulumi-policy policies for the given rules (all of ours by default)."""
    made: list[ResourceValidationPolicy | StackValidationPolicy] = [resource_policy(r) for r in resource_rules]
    made += [stack_policy(r) for r in stack_rules]
    if istio_valid.RULE in resource_rules or gateway_api_valid.RULE in resource_rules:
        made.append(coverage_policy())
    return made
