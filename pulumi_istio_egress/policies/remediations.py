"""Remediations: mechanical fixes where the right value is certain from the object alone.

Each is a pure function ``manifest -> remediated manifest or None`` (a new dict; the argument is
never changed). ``None`` means "not certain here": the finding stays, and a person decides. The
pack runs a remediation only where its rule finds fault (``ResourceRule.remediated``) and only
when the pack's config puts that rule at ``enforcementLevel: remediate``.

A resource remediation sees one object (pulumi-policy's Remediate call carries one resource), so
"certain" means certain whatever else the mesh holds. That rules out every ``exportTo`` value
``export-to-scoped`` could write, so it has no remediation:

- which namespaces need a ServiceEntry, an egress VirtualService or a gateway-subset
  DestinationRule is a fact about the clients, not about the object;
- a DestinationRule without ``workloadSelector`` is used by proxies of other namespaces whenever
  its namespace is the service's or the root namespace (``PushContext.destinationRule``,
  pilot/pkg/model/push_context.go), and even where no other namespace can find it, narrowing its
  exportTo changes which rules istiod merges with it in its own namespace (``mergeDestinationRule``,
  pilot/pkg/model/destination_rule.go, merges only rules with equal exportTo);
- the one value that was certain, ``["."]`` on a DestinationRule with a ``workloadSelector``
  (istiod never exports such a rule: ``PushContext.setDestinationRules``), is no longer a finding:
  the rule does not ask such a rule for exportTo at all.
"""

from __future__ import annotations

import copy

from ..findings import Manifest
from ..webhook import webhook_findings
from .objects import is_external_service_entry, spec
from .rule import Config


def _accepted(fixed: Manifest, original: Manifest) -> Manifest | None:
    """``fixed`` unless istiod's webhook (our rendition, istio-valid's layer 1) would reject it for a
    reason it did not reject ``original`` for: a remediation must never turn an object Istio takes
    into one it refuses."""
    def problems(manifest: Manifest) -> set[tuple[str, str]]:
        return {(finding.path, finding.message) for finding in webhook_findings(manifest)}

    return fixed if problems(fixed) <= problems(original) else None


def _with_spec(manifest: Manifest, key: str, value: object) -> Manifest:
    fixed = copy.deepcopy(manifest)
    fixed["spec"][key] = value
    return fixed


_PINS = ("addresses", "endpoints", "workloadSelector")
"""ServiceEntry fields that say where traffic goes; with any of them set, the author's intent
(pinned addresses, STATIC endpoints, selected pods) is not certain, so DNS is not written."""


def _concrete(host: object) -> bool:
    return isinstance(host, str) and bool(host) and "*" not in host


def dns_resolution(manifest: Manifest, config: Config) -> Manifest | None:
    """``resolution: DNS`` for a MESH_EXTERNAL ServiceEntry whose resolution is unset or ``NONE``,
    whose hosts are all concrete names, and that has no ``addresses``, ``endpoints`` or
    ``workloadSelector``.

    Certain because the hosts are the only destination the entry names: with DNS the proxy resolves
    them and sends traffic there only, which is what the entry says; with NONE it forwards to
    whatever address the client asked for. Not certain, so no remediation: a wildcard host (DNS
    needs FQDNs when there are no endpoints, ``ValidateServiceEntry``, pkg/config/validation), an
    entry with addresses or endpoints (pin them, or STATIC: the author's choice), a resolution other
    than NONE (``DYNAMIC_DNS`` and misspellings are not understood), and any result istiod's webhook
    would reject.
    """
    if not is_external_service_entry(manifest):
        return None
    body = spec(manifest)
    hosts = body.get("hosts")
    if not isinstance(hosts, list) or not hosts or not all(_concrete(host) for host in hosts):
        return None
    if body.get("resolution", "NONE") != "NONE":
        return None
    if any(body.get(key) not in (None, []) for key in _PINS):  # an empty selector still selects
        return None
    return _accepted(_with_spec(manifest, "resolution", "DNS"), manifest)

