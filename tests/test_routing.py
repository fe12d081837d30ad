"""policies.routing: the answer per host:port for the sidecar flavour (mesh -> egress gateway -> host).

Each row is one fixture stack's whole list of answers: (host, port, entry, via, app, server TLS
mode, passed through, originated, target port, [(break, port, clients)]). egress-via-gateway turns
the breaks into findings (tests/test_stack_rules.py), diagram draws the answers without breaks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from pulumi_istio_egress.policies.routing import sidecar_paths
from pulumi_istio_egress.policies.stack import Stack

STACKS = Path(__file__).parent / "fixtures" / "stacks"


def answers(name: str) -> list[tuple[Any, ...]]:
    manifests = [d for d in yaml.safe_load_all((STACKS / f"{name}.yaml").read_text()) if isinstance(d, dict)]
    return [(p.host, p.port, p.entry, p.via, p.app, p.server_tls, p.passthrough, p.origination, p.target_port,
             [(b.kind, b.port, b.clients) for b in p.breaks]) for p in sidecar_paths(Stack(manifests), manifests)]


@pytest.mark.parametrize(("name", "expected"), [
    # The mesh route covers 80 only: 443 is left a direct SNI chain (tls.go), 80 works.
    ("istio-docs-layout", [
        ("edition.cnn.com", 80, "default/cnn", "default/istio-egressgateway", "http", None, False, None, 80, []),
        ("edition.cnn.com", 443, "default/cnn", "default/istio-egressgateway", "http", None, False, None, 80,
         [("unrouted-port", 443, ())]),
    ]),
    # The gateway's DestinationRule lookup (SidecarScope.DestinationRule) from istio-system does not
    # find the originating rule kept in the client namespace ci: the gateway originates nothing.
    ("origination-in-client-namespace", [
        ("api.github.com", 80, "istio-system/github", "istio-system/github", "http", "ISTIO_MUTUAL", False, None,
         443, []),
        ("api.github.com", 443, "istio-system/github", "istio-system/github", "http", "ISTIO_MUTUAL", False, None,
         443, [("unrouted-port", 443, ())]),
    ]),
    # The route is not exported to builds: broken there, on every port.
    ("vs-not-visible-to-client", [
        ("api.github.com", 80, "istio-system/github", "istio-system/github", "http", "ISTIO_MUTUAL", False,
         "SIMPLE", 443, [("unseen-by-clients", None, ("builds",))]),
        ("api.github.com", 443, "istio-system/github", "istio-system/github", "http", "ISTIO_MUTUAL", False,
         "SIMPLE", 443, [("unrouted-port", 443, ()), ("unseen-by-clients", None, ("builds",))]),
    ]),
    # The concrete-host entry is exported to the gateway's namespace only: no client, no path of its own.
    ("wildcard-passthrough", [
        ("*.wikipedia.org", 443, "istio-system/wikipedia",
         "istio-system/wikipedia", "tls", "PASSTHROUGH", True, None, 443, []),
    ]),
    ("serviceentry-exported-everywhere", [
        ("api.stripe.com", 443, "istio-system/stripe", "istio-system/stripe", "tls", "PASSTHROUGH", True, None, 443,
         [("unseen-by-clients", None, ("*",))]),
    ]),
    # The mesh route goes to the host itself and no Gateway serves it: no gateway on the path.
    ("sidecar-origination", [
        ("edition.cnn.com", 80, "default/cnn", None, "http", None, False, None, 80,
         [("bypass", None, ()), ("no-gateway", None, ())]),
        ("edition.cnn.com", 443, "default/cnn", None, "http", None, False, None, 443,
         [("bypass", None, ()), ("no-gateway", None, ())]),
    ]),
])
def test_answers(name: str, expected: list[tuple[Any, ...]]) -> None:
    assert answers(name) == expected


@pytest.mark.parametrize(("client", "works"), [("ci", True), ("builds", False)])
def test_an_unseen_route_breaks_the_path_for_that_client_only(client: str, works: bool) -> None:
    manifests = list(yaml.safe_load_all((STACKS / "vs-not-visible-to-client.yaml").read_text()))
    port_80 = sidecar_paths(Stack(manifests), manifests)[0]
    assert (port_80.port, port_80.works_for(client), port_80.works) == (80, works, False)
