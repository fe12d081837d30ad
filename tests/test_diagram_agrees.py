"""`diagram` and `egress-via-gateway` agree on every fixture stack.

Both read :mod:`pulumi_istio_egress.policies.routing`; this proves they read it the same way.
Keys are routing's: ``(host, port)``, the host as Istio compares it (``objects.host_key``) and the
ServiceEntry port clients connect to (``None`` for an entry without ports).

*Flagged* keys come from egress-references-resolve's port findings (a VirtualService's port the
Gateway does not serve the host on flags its hosts) and from the rule's findings on ServiceEntries
(those on a VirtualService or an ExternalName Service are for hosts no ServiceEntry declares, which
no path is drawn for): a finding at ``spec.hosts[i]`` flags that host on every port of the entry; a
finding at ``spec.ports[j].number`` flags that port for every host of the entry.

*Drawn* keys are those of the paths ``diagram.routes`` draws (all of them working: the diagram
draws no broken path; a broken one is absent).

*Agree* means, per fixture:

1. no drawn key is flagged (the diagram never shows as working what the rule calls broken), and
2. the diagram draws exactly the sidecar paths routing knows (``routing.sidecar_paths`` and
   ``routing_gateway_api.gateway_api_paths``: each host:port of each judged MESH_EXTERNAL
   ServiceEntry some client namespace sees) less the flagged ones (a finding on a Gateway API mesh
   route flags the ports of the ServiceEntries it names), so every flagged path is absent and
   nothing unflagged is left out.

Ambient (waypoint) paths come from ``routing_ambient.waypoint_paths``, the same model: the diagram
draws exactly its working paths, and none of them is flagged, neither by ``egress-via-gateway``
(the ports the waypoint drops) nor by ``waypoint-binding-resolves`` (the binding breaks, reported
on the ServiceEntry's label or, for an inherited one, on its namespace).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.cli.diagram import routes
from pulumi_istio_egress.policies import egress_references, egress_via_gateway, waypoint_binding
from pulumi_istio_egress.policies.objects import dicts, host_key, port_number, spec, strings, waypoint_service_entries
from pulumi_istio_egress.policies.routing import sidecar_paths
from pulumi_istio_egress.policies.routing_ambient import waypoint_paths
from pulumi_istio_egress.policies.routing_gateway_api import gateway_api_paths
from pulumi_istio_egress.policies.stack import Stack

FIXTURES = Path(__file__).parent / "fixtures"
FILES = sorted([*FIXTURES.glob("stacks/*.yaml"), *FIXTURES.glob("istio-docs/**/*.yaml"),
                *FIXTURES.glob("golden/*.yaml"), *FIXTURES.glob("ambient/routes/*.yaml")])
Key = tuple[str, int | None]


def load(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    if len(docs) == 1 and "expected" in docs[0]:  # a route fixture: its whole manifests
        return [e["manifest"] for e in docs[0]["expected"]]
    return docs


def unbound(manifests: list[dict[str, Any]]) -> set[Key]:
    """(host, port) of each ServiceEntry waypoint-binding-resolves reports (its binding fails)."""
    entries = {id(m) for m, _ in waypoint_binding.check(manifests, {}) if m.get("kind") == "ServiceEntry"}
    return {(host_key(h), n) for m in manifests if id(m) in entries for _, h in strings(spec(m).get("hosts"))
            for n in [port_number(p.get("number")) for _, p in dicts(spec(m).get("ports"))] or [None]}


def known_paths(manifests: list[dict[str, Any]]) -> set[Key]:
    """Every host:port a flavour answers for: the sidecar flavour's and the Gateway API flavour's."""
    answers = [*sidecar_paths(Stack(manifests), manifests),
               *gateway_api_paths(manifests, waypoint_service_entries(manifests))]
    return {(p.host, p.port) for p in answers}


def _route_keys(manifests: list[dict[str, Any]], route: dict[str, Any]) -> set[Key]:
    """A finding on a Gateway API mesh route flags the host:ports of the ServiceEntries it names."""
    found: set[Key] = set()
    for _, parent in dicts(spec(route).get("parentRefs")):
        for entry in manifests:
            if entry.get("kind") == "ServiceEntry" and entry["metadata"]["name"] == parent.get("name"):
                ports = [n for _, p in dicts(spec(entry).get("ports")) if (n := port_number(p.get("number")))]
                found |= {(host_key(h), parent.get("port", n)) for _, h in strings(spec(entry).get("hosts"))
                          for n in ports}
    return found


PORT_FINDING = re.compile(r"spec\.(http|tls|tcp)\[\d+\]\.(route\[\d+\]\.destination\.port\.number|match\[\d+\]\.port)")


def flagged(manifests: list[dict[str, Any]]) -> set[Key]:
    found: set[Key] = set()
    # egress-references-resolve's port findings (a route's port the Gateway does not serve the host
    # on: policies/gateway_ports.py) are on the VirtualService: they flag its hosts on every port.
    known = known_paths(manifests)
    for manifest, finding in egress_references.check(manifests, {}):
        if PORT_FINDING.fullmatch(finding.path):
            hosts = {host_key(h) for _, h in strings(spec(manifest).get("hosts"))}
            found |= {key for key in known if key[0] in hosts}
    for manifest, finding in egress_via_gateway.check(manifests, {}):
        if manifest.get("kind") in ("HTTPRoute", "TLSRoute", "TCPRoute", "GRPCRoute"):
            found |= _route_keys(manifests, manifest)
            continue
        if manifest.get("kind") != "ServiceEntry":
            continue  # a Service host or an ExternalName Service: no ServiceEntry, so no path routing draws
        hosts = [host_key(h) for _, h in strings(spec(manifest).get("hosts"))]
        ports = [n for _, p in dicts(spec(manifest).get("ports")) if (n := port_number(p.get("number"))) is not None]
        if (host := re.fullmatch(r"spec\.hosts\[(\d+)\]", finding.path)) is not None:
            found |= {(hosts[int(host.group(1))], port) for port in ports or [None]}
        elif re.fullmatch(r"spec\.ports\[\d+\]\.number", finding.path):
            found |= {(h, finding.value) for h in hosts}
        else:
            pytest.fail(f"a finding this test cannot key: {finding.path}")
    return found


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(FIXTURES)) for p in FILES])
def test_the_diagram_draws_exactly_the_paths_the_rule_does_not_flag(path: Path) -> None:
    manifests = load(path)
    drawn = [p.key for p in routes(manifests)]
    bad = flagged(manifests)
    known = known_paths(manifests)
    assert sorted(set(drawn) & bad, key=str) == []
    assert sorted({p.key for p in routes(manifests) if p.proxy == "sidecar"}, key=str) == sorted(known - bad, key=str)
    ambient = [p.key for p in routes(manifests) if p.proxy == "ztunnel"]
    sidecar = [p.key for p in routes(manifests) if p.proxy == "sidecar"]
    assert (len(sidecar), len(ambient)) == (len(set(sidecar)), len(set(ambient)))  # each host:port once per proxy
    every: dict[Key, list[bool]] = {}
    for answer in waypoint_paths(manifests):
        every.setdefault((answer.host, answer.port), []).append(answer.works)
    assert ambient == [key for key, works in every.items() if all(works)]
    assert sorted(set(ambient) & unbound(manifests), key=str) == []


def test_the_ambient_fixtures_draw_and_leave_out() -> None:
    """Not vacuous for ambient: some waypoint paths are drawn, some broken ones are left out."""
    paths = [a for p in FILES for a in waypoint_paths(load(p))]
    assert (sum(a.works for a in paths) > 5, sum(not a.works for a in paths) > 3) == (True, True)


def test_the_fixtures_hold_both_kinds() -> None:
    # Not vacuous: some fixtures draw paths, some have paths the rule flags and the diagram leaves out.
    drawn = sum(bool(routes(load(p))) for p in FILES)
    left_out = sum(bool(flagged(load(p)) & known_paths(load(p))) for p in FILES)
    assert (drawn > 5, left_out > 5) == (True, True)
