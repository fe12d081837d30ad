"""waypoint-policy-targets: AuthorizationPolicies meant for a waypoint-bound ServiceEntry target it.

A waypoint applies an AuthorizationPolicy only through ``targetRefs``: to the waypoint Gateway, to
the GatewayClass ``istio-waypoint`` from the root namespace, or to a Service/ServiceEntry bound to
it, the policy in that service's namespace. Policies with a ``selector`` or none at all are ignored
by waypoints ("waypoints never use selector", ``WorkloadPolicyMatcher.ShouldAttachPolicy`` in
pilot/pkg/model/policyattachment.go), and ztunnel enforces policies only at destination workloads,
which an external host does not have: such a policy is enforced nowhere.

For each ServiceEntry bound to a waypoint (its own ``istio.io/use-waypoint`` label, or its
Namespace's when the stack holds it), an AuthorizationPolicy without ``targetRefs`` is meant for it
when it lives in the ServiceEntry's or the waypoint's namespace and either names one of its hosts
in ``rules[].to[].operation.hosts``, or selects the waypoint's pods
(``gateway.networking.k8s.io/gateway-name: <waypoint>``). A policy is reported

- when it is meant for such ServiceEntries (one finding per policy, naming them all);
- when a ``targetRefs`` entry names a bound ServiceEntry of the policy's namespace as a ``Service``
  (core group) and the stack has no Kubernetes Service of that name: such a reference attaches only
  to Kubernetes Services, never to a ServiceEntry.

Policies elsewhere are not judged: a selector policy in a sidecar egress gateway's namespace is
that gateway's business.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ..findings import Finding, Manifest
from .objects import dicts, host_matches, kind_of, meta, spec, strings, sub
from .rule import Config, StackRule
from .waypoints import GATEWAY_NAME_LABEL, Binding, Waypoints, is_service_entry


def _operation_hosts(policy: Manifest) -> Iterator[str]:
    for _, rule in dicts(spec(policy).get("rules")):
        for _, to in dicts(rule.get("to")):
            for _, host in strings(sub(to, "operation", "hosts")):
                yield host.rsplit(":", 1)[0] if ":" in host else host


def _names_host(policy: Manifest, hosts: list[str]) -> bool:
    return any(host_matches(p, h) or host_matches(h, p) for p in _operation_hosts(policy) for h in hosts)


def _selects_waypoint(policy: Manifest, binding: Binding) -> bool:
    namespace, name = binding.waypoint.split("/", 1)
    return meta(policy, "namespace") == namespace and sub(spec(policy), "selector", "matchLabels",
                                                          GATEWAY_NAME_LABEL) == name


def _target_refs(policy: Manifest) -> list[tuple[str, dict[str, Any]]]:
    body = spec(policy)
    refs = [(f"spec.targetRefs[{i}]", ref) for i, ref in dicts(body.get("targetRefs"))]
    if not refs and isinstance(body.get("targetRef"), dict):
        refs = [("spec.targetRef", body["targetRef"])]
    return refs


def check(manifests: Sequence[Manifest], config: Config) -> list[tuple[Manifest, Finding]]:
    index = Waypoints(manifests)
    bound = [(entry, binding) for entry in manifests if is_service_entry(entry)
             for binding in (index.binding(entry),) if binding is not None]
    services = {f"{meta(m, 'namespace')}/{meta(m, 'name')}" for m in manifests
                if isinstance(m, dict) and m.get("apiVersion") == "v1" and m.get("kind") == "Service"}
    found: list[tuple[Manifest, Finding]] = []
    for policy in manifests:
        if kind_of(policy) != "AuthorizationPolicy":
            continue
        refs = _target_refs(policy)
        if refs:
            found += _service_refs(policy, refs, bound, services)
            continue
        meant = [(entry, binding) for entry, binding in bound
                 if meta(policy, "namespace") in (meta(entry, "namespace"), binding.waypoint.split("/", 1)[0])
                 and (_names_host(policy, _hosts(entry)) or _selects_waypoint(policy, binding))]
        if not meant:
            continue
        entry = meant[0][0]
        found.append((policy, Finding(
            "spec.selector" if spec(policy).get("selector") is not None else "spec.targetRefs",
            spec(policy).get("selector"),
            f"it is meant for {_listing(meant)}, but it has no targetRefs: waypoints ignore selector and "
            "namespace-wide policies, and ztunnel has no destination workload to enforce it at, so it is "
            "enforced nowhere",
            f"replace the selector with targetRefs: [{{group: networking.istio.io, kind: ServiceEntry, name: "
            f"{meta(entry, 'name')}}}] in namespace {meta(entry, 'namespace')}, one entry per ServiceEntry "
            "(or target the waypoint Gateway)",
        )))
    return found


def _service_refs(policy: Manifest, refs: list[tuple[str, dict[str, Any]]], bound: list[tuple[Manifest, Binding]],
                  services: set[str]) -> list[tuple[Manifest, Finding]]:
    """targetRefs naming a bound ServiceEntry of the policy's namespace as a core Service (when the
    stack holds no Kubernetes Service of that name for it to mean)."""
    found: list[tuple[Manifest, Finding]] = []
    for path, ref in refs:
        if ref.get("kind") != "Service" or ref.get("group", "") not in ("", "core"):
            continue
        for entry, binding in bound:
            ref_key = f"{meta(policy, 'namespace')}/{ref.get('name')}"
            if ref_key == f"{meta(entry, 'namespace')}/{meta(entry, 'name')}" and ref_key not in services:
                found.append((policy, Finding(
                    f"{path}.kind", "Service",
                    f"it targets {meta(entry, 'name')} as a Kubernetes Service, but it is the "
                    f"{_listing([(entry, binding)])}: the waypoint attaches the policy to no service, so it is "
                    "enforced nowhere",
                    "target it with group networking.istio.io, kind ServiceEntry",
                )))
    return found


def _hosts(entry: Manifest) -> list[str]:
    return [h for _, h in strings(spec(entry).get("hosts"))]


def _listing(meant: list[tuple[Manifest, Binding]]) -> str:
    """``ServiceEntry ns/name (hosts) bound to the waypoint ns/w``, for each."""
    return ", ".join(
        f"ServiceEntry {meta(e, 'namespace')}/{meta(e, 'name')} ({', '.join(_hosts(e))}) bound to the waypoint "
        f"{b.waypoint}" for e, b in meant)


RULE = StackRule(
    name="waypoint-policy-targets",
    description="AuthorizationPolicies for a waypoint-bound ServiceEntry target it with targetRefs: waypoints "
                "ignore selector policies, so they would be enforced nowhere.",
    severity="high",
    enforcement="mandatory",
    check=check,
)
