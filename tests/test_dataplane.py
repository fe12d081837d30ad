"""The data-plane benchmark: its Envoy configs have istiod's shapes, and its quick run works end to end.

Nothing here asserts on time: the quick run must route every request through a real Envoy gateway to a
real Envoy host (status 200, no errors) and print one row per configuration with a ratio to PASSTHROUGH.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import dataplane_envoy as envoy_config  # noqa: E402
from dataplane_certs import HOST, KeyType, generate  # noqa: E402
from dataplane_envoy import Config, Ports  # noqa: E402

PATTERNS = ("PASSTHROUGH", "SIMPLE origination", "SIMPLE termination", "MUTUAL")
MODES = ("kept-alive", "new per request")


def _shape(bootstrap: dict[str, Any], config: Config) -> dict[str, Any]:
    """What decides a configuration's cost: inspection, downstream TLS, the filter, the upstream TLS."""
    listeners = bootstrap["static_resources"]["listeners"]
    listener = next(entry for entry in listeners if entry["name"] == config.name.lower())
    [chain] = listener["filter_chains"]
    [network] = chain["filters"]
    downstream = chain.get("transport_socket", {}).get("typed_config")
    typed = network["typed_config"]
    if "cluster" in typed:
        cluster_name = typed["cluster"]
    else:
        cluster_name = typed["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["cluster"]
    cluster = next(c for c in bootstrap["static_resources"]["clusters"] if c["name"] == cluster_name)
    upstream = cluster.get("transport_socket", {}).get("typed_config")
    return {
        "listener_filters": [f["name"].rsplit(".", 1)[-1] for f in listener.get("listener_filters", [])],
        "server_names": chain.get("filter_chain_match", {}).get("server_names"),
        "downstream_tls": None if downstream is None else {
            "client_cert_required": downstream["require_client_certificate"],
            "alpn": downstream["common_tls_context"]["alpn_protocols"],
        },
        "filter": network["name"].rsplit(".", 1)[-1],
        "xfcc": typed.get("forward_client_cert_details"),
        "upstream_tls": None if upstream is None else {
            "sni": upstream["sni"],
            "san": upstream["common_tls_context"]["validation_context"]["match_typed_subject_alt_names"],
            "client_cert": "tls_certificates" in upstream["common_tls_context"],
        },
    }


_SAN = [{"san_type": "DNS", "matcher": {"exact": HOST}}]
_ALPN = ["h2", "http/1.1"]


@pytest.mark.parametrize(("config", "expected"), [
    # buildGatewayNetworkFiltersFromTLSRoutes: SNI chain, no TLS context, tcp_proxy to a plain cluster.
    (Config.PASSTHROUGH, {"listener_filters": ["tls_inspector"], "server_names": [HOST], "downstream_tls": None,
                          "filter": "tcp_proxy", "xfcc": None,
                          "upstream_tls": None}),
    # Gateway HTTPS/ISTIO_MUTUAL (the mesh leg) + DestinationRule SIMPLE (constructUpstreamTLS).
    (Config.ORIGINATION, {"listener_filters": ["tls_inspector"], "server_names": [HOST],
                          "downstream_tls": {"client_cert_required": True, "alpn": _ALPN},
                          "filter": "http_connection_manager", "xfcc": "SANITIZE_SET",
                          "upstream_tls": {"sni": HOST, "san": _SAN, "client_cert": False}}),
    # A plain HTTP server: no SNI, no TLS context, hence no TLS inspector (buildListenerFromEntry).
    (Config.ORIGINATION_PLAIN, {"listener_filters": [], "server_names": None, "downstream_tls": None,
                                "filter": "http_connection_manager", "xfcc": "SANITIZE_SET",
                                "upstream_tls": {"sni": HOST, "san": _SAN, "client_cert": False}}),
    # Gateway HTTPS/SIMPLE with credentialName: the gateway's certificate, no client certificate.
    (Config.TERMINATION, {"listener_filters": ["tls_inspector"], "server_names": [HOST],
                          "downstream_tls": {"client_cert_required": False, "alpn": _ALPN},
                          "filter": "http_connection_manager", "xfcc": "SANITIZE_SET",
                          "upstream_tls": {"sni": HOST, "san": _SAN, "client_cert": False}}),
    # As origination, and the DestinationRule's client certificate upstream.
    (Config.MUTUAL, {"listener_filters": ["tls_inspector"], "server_names": [HOST],
                     "downstream_tls": {"client_cert_required": True, "alpn": _ALPN},
                     "filter": "http_connection_manager", "xfcc": "SANITIZE_SET",
                     "upstream_tls": {"sni": HOST, "san": _SAN, "client_cert": True}}),
])
def test_gateway_config_follows_istiod_shapes(config: Config, expected: dict[str, Any], tmp_path: Path) -> None:
    pki = generate(KeyType.ECDSA_P256, tmp_path)
    ports = Ports(gateway={c: 10_000 + i for i, c in enumerate(Config)}, gateway_admin=9_000, upstream=9_001,
                  upstream_mutual=9_002, upstream_admin=9_003)
    assert _shape(envoy_config.gateway(ports, pki), config) == expected


def _table_rows(stdout: str) -> dict[tuple[str, str], list[str]]:
    rows: dict[tuple[str, str], list[str]] = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 10 and cells[1] in MODES:
            rows[(cells[1], cells[2])] = cells
    return rows


def test_quick_run_prints_one_row_per_configuration_with_its_ratio(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, str(BENCHMARKS / "dataplane.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=170, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = _table_rows(proc.stdout)
    for mode in MODES:
        for pattern in PATTERNS:
            cells = rows[(mode, pattern)]
            assert cells[0] == "ecdsa-p256"
            assert cells[9] == "0", f"{pattern}/{mode}: requests failed through the gateway"
            assert int(cells[8]) > 0
            ratio = cells[4]
            if pattern == "PASSTHROUGH":
                assert ratio == "1.00"
            else:
                assert float(ratio) > 0, (pattern, mode, ratio)
    report = json.loads(out.read_text())
    assert {(r["mode"], r["config"]) for r in report["rows"]} >= {(m, p) for m in MODES for p in PATTERNS}
    assert {r["config"] for r in report["mesh"]} == set(PATTERNS)
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in report["rows"])
