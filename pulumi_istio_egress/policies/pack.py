"""The thin shell: our rules as pulumi-policy policies.

Props arrive wrapped in pulumi-policy's proxies, with sentinel strings for values unknown during
preview. We copy them into plain dicts, run the pure rule, drop findings about unknown values,
report the rest, and then let pulumi-policy say (advisory) which values could not be judged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from ..extras import requires_extra

with requires_extra("the istio-egress policy pack"):
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

from ..findings import Finding, Manifest, object_ref
from ..policy_config import unknown_options
from . import catalog, rule_of, sdk

if TYPE_CHECKING:
    from .rule import ResourceRule, StackRule

PACK_NAME = "istio-egress"


def to_manifest(resource_type: str, props: Any) -> tuple[Manifest, list[tuple[str, str]]]:
    """A plain manifest from pulumi-kubernetes props, plus ``(path, sentinel)`` for unknown values
    (left as ``None`` in the manifest).

    ``apiVersion``/``kind`` come from the props (CustomResource, YAML) or else the type token
    ``kubernetes:<group>/<version>:<Kind>``.
    """
    manifest, has_unknown = sdk.unwrap(props)
    unknown = sdk.blank_unknowns(manifest) if has_unknown else []
    if not isinstance(manifest, dict):
        manifest = {}
    parts = resource_type.split(":")
    if len(parts) == 3 and parts[0] == "kubernetes":
        manifest.setdefault("apiVersion", parts[1].removeprefix("core/"))
        manifest.setdefault("kind", parts[2])
    return manifest, unknown


def _judgeable(findings: Iterable[Finding], unknown: list[tuple[str, str]]) -> list[Finding]:
    """Findings that are not about a value unknown during preview (or something inside one)."""
    prefixes = [p for p, _ in unknown]
    return [f for f in findings
            if not any(f.path == p or f.path.startswith((p + ".", p + "[")) for p in prefixes)]


def _raise_unknown(unknown: list[tuple[str, str]]) -> None:
    if unknown:
        sdk.raise_unknown(*unknown[0])


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


EXEMPT_ANNOTATION = "pulumi-istio-egress/exempt"
"""``metadata.annotations`` entry that exempts an object from policies, one ``<policy>: <reason>``
per line: the policy's findings on that object are reported as advisories naming the reason."""


def exemptions(manifest: Manifest | None) -> dict[str, str]:
    """``{policy: reason}`` from an object's exemption annotation (lines without a reason are not
    exemptions: an exception nobody explained is not one)."""
    meta = manifest.get("metadata") if isinstance(manifest, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    text = annotations.get(EXEMPT_ANNOTATION) if isinstance(annotations, dict) else None
    found: dict[str, str] = {}
    for line in text.splitlines() if isinstance(text, str) else ():
        policy, _, reason = line.partition(":")
        if policy.strip() and reason.strip():
            found[policy.strip()] = reason.strip()
    return found


class _Deferred:
    """What this pack process says at the end of the run, at advisory level, in the advisories
    stack policy: exempted findings (``(urn, text)``) and rule notes (note -> objects it applied to).
    Resource policies run before stack policies, and the advisories policy runs last."""

    exempted: ClassVar[list[tuple[str | None, str]]] = []
    notes: ClassVar[dict[str, int]] = {}


def _report(rule_name: str, finding: Finding, manifest: Manifest | None, urn: str | None,
            report: ReportViolation, *, name_object: bool) -> None:
    """Report a finding, or defer it as an advisory when the object is exempt from this rule."""
    text = message(finding, manifest if name_object else None)
    reason = exemptions(manifest).get(rule_name)
    if reason is None:
        report(text, urn)
    else:
        _Deferred.exempted.append((urn, f"{rule_name} (exempt: {reason}): {text}"))


def _loader(entry: catalog.Entry) -> Callable[[], Any]:
    """The rule a catalog entry stands for, its module imported on the first call."""
    loaded: list[Any] = []

    def load() -> Any:
        if not loaded:
            rule = rule_of(entry["module"])
            if rule.name != entry["name"]:
                raise RuntimeError(f"policies/catalog.json names {entry['name']!r} where {entry['module']} has "
                                   f"{rule.name!r}: run python -m pulumi_istio_egress.policies.catalog --write")
            loaded.append(rule)
        return loaded[0]

    return load


def resource_policy(rule: ResourceRule) -> ResourceValidationPolicy:
    return _resource_policy(catalog.entry("", rule), lambda: rule)


def _resource_policy(entry: catalog.Entry, load: Callable[[], ResourceRule]) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if not args.resource_type.startswith("kubernetes:"):
            args.not_applicable("not a Kubernetes object")
        rule = load()
        manifest, unknown = resource_manifest(args)
        config = _checked_config(rule, args, report)
        reason = rule.applies(manifest, config) if rule.applies else None
        if reason:
            args.not_applicable(reason)
        for finding in _judgeable(_safe(rule.name, lambda: rule.check(manifest, config)), unknown):
            _report(rule.name, finding, manifest, args.urn, report, name_object=False)
        note = rule.note(config) if rule.note else None
        if note:
            _Deferred.notes[note] = _Deferred.notes.get(note, 0) + 1
        _raise_unknown(unknown)

    # pulumi-policy types `remediate` as returning an Awaitable, but its Remediate call takes a plain
    # mapping too (`elif result is not None: new_props = result`, pulumi_policy/policy.py).
    remediate: Any = _remediation(entry, load)
    return ResourceValidationPolicy(name=entry["name"], validate=validate, remediate=remediate, **_metadata(entry))


Remediate = Callable[[ResourceValidationArgs], Mapping[str, Any] | None]


def _remediation(entry: catalog.Entry, load: Callable[[], ResourceRule]) -> Remediate | None:
    """pulumi-policy's ``remediate`` for a rule that has one. pulumi-policy calls it only while the
    rule is at ``enforcementLevel: remediate``, then Analyze judges the remediated properties.

    The new properties are the old ones with what the rule's remediation changed. It does not run on
    values unknown during preview (pulumi-policy says "can't run remediation ... during preview"),
    on an object exempt from the rule (an exemption is a person's decision to keep the value), or
    where it is not certain (``ResourceRule.remediated``); a remediation that fails is no
    remediation, and the finding stands.
    """
    if not entry["remediates"]:
        return None

    def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
        if not args.resource_type.startswith("kubernetes:"):
            return None
        rule = load()
        props = sdk.remediation_props(args.props)
        if not isinstance(props, dict):
            return None
        manifest, unknown = to_manifest(args.resource_type, props)
        if rule.name in exemptions(manifest):
            return None
        config = dict(rule.defaults(), **_config(args))
        try:
            if unknown:
                # Say "can't run" only where the rule finds something to fix (unknowns judged as unset),
                # not on every object that holds an unknown value.
                if list(rule.check(manifest, config)):
                    _raise_unknown(unknown)
                return None
            fixed = rule.remediated(manifest, config)
        except sdk.UnknownValueError:
            raise
        except Exception:
            return None
        if fixed is None:
            return None
        # Keys to_manifest only filled in from the type token stay out, as they were.
        return {key: value for key, value in fixed.items() if key in props or manifest.get(key) != value}

    return remediate


def _metadata(entry: catalog.Entry) -> dict[str, Any]:
    schema = entry["configSchema"]
    return {
        "description": entry["description"], "enforcement_level": EnforcementLevel(entry["enforcement"]),
        "severity": Severity(entry["severity"]), "url": entry["url"], "remediation_steps": entry["remediationSteps"],
        "config_schema": PolicyConfigSchema(properties={k: dict(v) for k, v in schema.items()}) if schema else None,
    }


class StackView(NamedTuple):
    """A stack as our stack rules read it: plain manifests, the URN of each (by ``id``), and the
    unknown values anywhere in it."""

    manifests: list[Manifest]
    urns: dict[int, str]
    unknown: list[tuple[str, str]]


class _Shared:
    """The last request of each kind with its conversion, as one ``(request, converted)`` pair (one
    assignment, so a pair is never read half-replaced by another server thread): every policy of one
    request reads the same plain manifests, converted once. The request is kept, so its identity
    cannot be reused; rules never write into what they read (``tests/test_sdk_internals.py``)."""

    analyze: tuple[Any, tuple[Manifest, list[tuple[str, str]]]] | None = None
    stack: tuple[Any, StackView] | None = None


def _per_request(slot: str, request: Any, convert: Callable[[], Any]) -> Any:
    """``convert()`` once per servicer ``request`` (``None``: not inside one, convert every time)."""
    shared = getattr(_Shared, slot)
    if request is not None and shared is not None and shared[0] is request:
        return shared[1]
    converted = convert()
    if request is not None:
        setattr(_Shared, slot, (request, converted))
    return converted


def resource_manifest(args: ResourceValidationArgs) -> tuple[Manifest, list[tuple[str, str]]]:
    """``to_manifest`` of the object of ``args``, shared by the resource policies of one Analyze
    request: the SDK rebuilds the proxied properties for each policy, and converting them again for
    each of our ten was a third of the pack's own time per object."""
    converted: tuple[Manifest, list[tuple[str, str]]] = _per_request(
        "analyze", sdk.analyze_request(), lambda: to_manifest(args.resource_type, args.props))
    return converted


def stack_manifests(args: StackValidationArgs) -> StackView:
    """The stack of ``args`` as plain manifests, shared by the stack policies of one request."""
    request = sdk.analyze_stack_request()
    view: StackView = _per_request("stack", request, lambda: _stack_view(args, request))
    return view


def _stack_view(args: StackValidationArgs, request: Any) -> StackView:
    if request is not None:
        # A new request: the collector's young generation sized to its live data (sdk.size_young_generation).
        sdk.size_young_generation(len(args.resources))
    view = StackView([], {}, [])
    for resource in args.resources:
        if not resource.resource_type.startswith("kubernetes:"):
            continue
        manifest, unknown = to_manifest(resource.resource_type, resource.props)
        view.manifests.append(manifest)
        view.urns[id(manifest)] = resource.urn
        view.unknown.extend(unknown)
    return view


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    return _stack_policy(catalog.entry("", rule), lambda: rule)


def _stack_policy(entry: catalog.Entry, load: Callable[[], StackRule]) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        rule = load()
        view = stack_manifests(args)
        config = _checked_config(rule, args, report)
        reason = rule.applies(view.manifests, config) if rule.applies else None
        if reason:
            args.not_applicable(reason)
        for item in _safe(rule.name, lambda: rule.check(view.manifests, config)):
            manifest, finding = item if isinstance(item, tuple) else (None, item)
            urn = view.urns.get(id(manifest)) if manifest is not None else None
            # With a URN the CLI names the object itself; without one the message must.
            _report(rule.name, finding, manifest, urn, report, name_object=not urn)
        _raise_unknown(view.unknown)

    return StackValidationPolicy(name=entry["name"], validate=validate, **_metadata(entry))


def _config(args: ResourceValidationArgs | StackValidationArgs) -> dict[str, Any]:
    try:
        config = args.get_config()
    except Exception:
        return {}
    return {k: v for k, v in config.items() if k != "enforcementLevel"} if isinstance(config, Mapping) else {}


_REPORTED_TYPOS: set[str] = set()


def _checked_config(rule: ResourceRule | StackRule, args: Any, report: ReportViolation) -> dict[str, Any]:
    """The rule's config over its defaults. An option its schema does not declare (``auditedHost``)
    is a violation, said once per pack run: the wire format cannot carry ``additionalProperties:
    false`` to the CLI, so the pack is where a misspelt option stops being silently ignored."""
    config = _config(args)
    for problem in unknown_options(rule.name, config, rule.config_schema or {}):
        if problem not in _REPORTED_TYPOS:
            _REPORTED_TYPOS.add(problem)
            report(problem, None)
    return dict(rule.defaults(), **config)


ADVISORIES = "istio-egress-advisories"


def advisories_policy() -> StackValidationPolicy:
    """Advisory, last: what the other policies deferred to the end of the run — findings on exempted
    objects, and each rule note once with the number of objects it applied to."""

    def validate(args: StackValidationArgs, report: ReportViolation) -> None:
        exempted, notes = list(_Deferred.exempted), dict(_Deferred.notes)
        _Deferred.exempted.clear()
        _Deferred.notes.clear()
        _Shared.stack = None  # the last stack policy has run: free the stack's view now, not at the next request
        for urn, text in exempted:
            report(text, urn)
        for note, count in notes.items():
            report(note.format(count=count), None)

    return StackValidationPolicy(
        name=ADVISORIES, validate=validate, enforcement_level=EnforcementLevel.ADVISORY, severity=Severity.LOW,
        description=f"Says at the end of the run what the other policies deferred: findings on objects exempt "
                    f"through the {EXEMPT_ANNOTATION} annotation, and notes such as a validation layer that did "
                    "not run.", url=f"{catalog.DOCS_URL}#{ADVISORIES}",
    )


def policies(resource_rules: Sequence[ResourceRule] | None = None,
             stack_rules: Sequence[StackRule] | None = None) -> list[ResourceValidationPolicy | StackValidationPolicy]:
    """pulumi-policy policies for the given rules, the advisories last. A side left ``None`` is all of
    ours, registered from ``catalog.json``: each rule's module is imported when the rule first runs."""
    entries = catalog.load() if resource_rules is None or stack_rules is None else []
    made: list[ResourceValidationPolicy | StackValidationPolicy] = []
    if resource_rules is None:
        made += [_resource_policy(e, _loader(e)) for e in entries if e["kind"] == "resource"]
    else:
        made += [resource_policy(r) for r in resource_rules]
    if stack_rules is None:
        made += [_stack_policy(e, _loader(e)) for e in entries if e["kind"] == "stack"]
    else:
        made += [stack_policy(r) for r in stack_rules]
    made.append(advisories_policy())
    return made
