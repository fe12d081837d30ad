"""Envoy static configs for the data-plane benchmark: an egress "gateway" and the external "host".

Pure functions from ports and certificate paths to Envoy v3 bootstrap dicts. The gateway's listeners and
clusters follow the shapes istiod (istio/istio 1.30) generates for the Gateway servers and DestinationRules
our patterns emit (``pulumi_istio_egress.manifests``); each builder names the istiod function it follows.

What is *not* modelled, on purpose and stated in DATAPLANE.md: Istio's own filters (istio.stats,
metadata exchange, RBAC for AuthorizationPolicy, the access log), SDS (certificates are files here) and
the bootstrap's stats sinks. It is Envoy doing the TLS and routing work a gateway does, nothing more.
The sidecar-to-gateway mTLS leg of origination *is* modelled: the load generator plays the sidecar and
presents a mesh certificate, as ``Gateway HTTPS/ISTIO_MUTUAL`` requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dataplane_certs import HOST, Pair, Pki

_TYPES = "type.googleapis.com/envoy.extensions"
TLS_INSPECTOR = {
    "name": "envoy.filters.listener.tls_inspector",
    "typed_config": {"@type": f"{_TYPES}.filters.listener.tls_inspector.v3.TlsInspector"},
}
# istiod names the host's cluster model.BuildSubsetKey(TrafficDirectionOutbound, "", host, port), i.e.
# outbound|443||HOST, for every pattern (one route per host). One process holds all three here, so the
# subset field carries a marker to keep the names apart.
CLUSTER_PLAIN = f"outbound|443|passthrough|{HOST}"
CLUSTER_SIMPLE = f"outbound|443|simple|{HOST}"
CLUSTER_MUTUAL = f"outbound|443|mutual|{HOST}"
# defaultUpstreamCommonTLSContext (pilot/pkg/networking/core/cluster_tls.go): TLS 1.2 to 1.3 upstream.
UPSTREAM_TLS_PARAMS = {"tls_minimum_protocol_version": "TLSv1_2", "tls_maximum_protocol_version": "TLSv1_3"}
# util.ALPNHttp, set by BuildListenerTLSContext (pilot/pkg/networking/core/listener.go) for HTTPS servers.
ALPN_HTTP = ["h2", "http/1.1"]


class Config(StrEnum):
    """One gateway configuration per pattern; the value is the row label."""

    PASSTHROUGH = "PASSTHROUGH"
    ORIGINATION = "SIMPLE origination"
    ORIGINATION_PLAIN = "SIMPLE origination, plain HTTP in"
    """Not a pattern of ours: origination without the mTLS leg, to show what that leg costs."""
    TERMINATION = "SIMPLE termination"
    MUTUAL = "MUTUAL"


@dataclass(frozen=True)
class Ports:
    gateway: dict[Config, int]
    gateway_admin: int
    upstream: int
    """The host's TLS port (server certificate only)."""
    upstream_mutual: int
    """The host's TLS port that requires a client certificate (MUTUAL)."""
    upstream_admin: int


def _address(port: int) -> dict[str, Any]:
    return {"socket_address": {"address": "127.0.0.1", "port_value": port}}


def _cert(pair: Pair) -> dict[str, Any]:
    return {"certificate_chain": {"filename": str(pair.cert)}, "private_key": {"filename": str(pair.key)}}


def _socket(kind: str, context: dict[str, Any]) -> dict[str, Any]:
    return {"name": "envoy.transport_sockets.tls",
            "typed_config": {"@type": f"{_TYPES}.transport_sockets.tls.v3.{kind}",
                             **context}}


def _hcm(stat_prefix: str, route: dict[str, Any], *, gateway: bool) -> dict[str, Any]:
    hcm: dict[str, Any] = {
        "@type": f"{_TYPES}.filters.network.http_connection_manager.v3.HttpConnectionManager",
        "stat_prefix": stat_prefix,
        "route_config": {"name": stat_prefix, "virtual_hosts": [{
            # buildGatewayHTTPRouteConfig (gateway.go): one virtual host per server host, named
            # util.DomainName(host, port), matching that host.
            "name": f"{HOST}:443", "domains": [HOST], "routes": [route]}]},
        "http_filters": [{"name": "envoy.filters.http.router", "typed_config": {
            "@type": f"{_TYPES}.filters.http.router.v3.Router"}}],
    }
    if gateway:
        # buildGatewayConnectionManager (pilot/pkg/networking/core/gateway.go): remote address trusted, and the
        # client certificate (the sidecar's identity on the mTLS leg) forwarded as XFCC, SANITIZE_SET.
        hcm.update({
            "use_remote_address": True,
            "forward_client_cert_details": "SANITIZE_SET",
            "set_current_client_cert_details": {"subject": True, "cert": True, "dns": True, "uri": True},
        })
    return hcm


def _gateway_http_chain(config: Config, downstream: dict[str, Any], cluster: str) -> dict[str, Any]:
    # createGatewayHTTPFilterChainOpts (gateway.go) for an HTTPS server that terminates TLS: SNI match on the
    # server's hosts, a DownstreamTlsContext, and an HTTP connection manager routing to the host's cluster.
    route = {"match": {"prefix": "/"}, "route": {"cluster": cluster}}
    return {
        "filter_chain_match": {"server_names": [HOST]},
        "transport_socket": _socket("DownstreamTlsContext", downstream),
        "filters": [{"name": "envoy.filters.network.http_connection_manager",
                     "typed_config": _hcm(config.name.lower(), route, gateway=True)}],
    }


def _istio_mutual_downstream(pki: Pki) -> dict[str, Any]:
    # BuildListenerTLSContext (listener.go), mode ISTIO_MUTUAL: ALPN h2/http1.1, client certificate required
    # and verified against the mesh root; the gateway serves its workload certificate.
    return {"require_client_certificate": True, "common_tls_context": {
        "alpn_protocols": ALPN_HTTP,
        "tls_certificates": [_cert(pki.gateway_workload)],
        "validation_context": {"trusted_ca": {"filename": str(pki.mesh_ca)}},
    }}


def _simple_downstream(pki: Pki) -> dict[str, Any]:
    # BuildListenerTLSContext, mode SIMPLE with credentialName: the Secret's certificate, no client certificate.
    return {"require_client_certificate": False, "common_tls_context": {
        "alpn_protocols": ALPN_HTTP, "tls_certificates": [_cert(pki.gateway_terminate)]}}


def _listener(name: str, port: int, chains: list[dict[str, Any]]) -> dict[str, Any]:
    # buildListenerFromEntry (listener.go) adds the TLS inspector whenever a chain matches on SNI or ALPN,
    # which every chain here does.
    return {"name": name, "address": _address(port), "listener_filters": [TLS_INSPECTOR], "filter_chains": chains}


def gateway_listener(config: Config, port: int, pki: Pki) -> dict[str, Any]:
    """The gateway's listener for one configuration."""
    if config is Config.PASSTHROUGH:
        # buildGatewayNetworkFiltersFromTLSRoutes (gateway.go): one chain per VirtualService tls match, keyed by
        # its sniHosts, no TLS context, and a tcp_proxy to the host's cluster (buildOutboundNetworkFilters).
        chain = {"filter_chain_match": {"server_names": [HOST]}, "filters": [{
            "name": "envoy.filters.network.tcp_proxy", "typed_config": {
                "@type": f"{_TYPES}.filters.network.tcp_proxy.v3.TcpProxy",
                "stat_prefix": CLUSTER_PLAIN, "cluster": CLUSTER_PLAIN}}]}
        return _listener(config.name.lower(), port, [chain])
    if config is Config.ORIGINATION_PLAIN:
        # createGatewayHTTPFilterChainOpts for a plain HTTP server: no SNI, no TLS context, so
        # buildListenerFromEntry adds no TLS inspector either.
        route = {"match": {"prefix": "/"}, "route": {"cluster": CLUSTER_SIMPLE}}
        return {"name": config.name.lower(), "address": _address(port), "filter_chains": [{"filters": [{
            "name": "envoy.filters.network.http_connection_manager",
            "typed_config": _hcm(config.name.lower(), route, gateway=True)}]}]}
    if config is Config.TERMINATION:
        chain = _gateway_http_chain(config, _simple_downstream(pki), CLUSTER_SIMPLE)
    elif config is Config.ORIGINATION:
        chain = _gateway_http_chain(config, _istio_mutual_downstream(pki), CLUSTER_SIMPLE)
    else:
        chain = _gateway_http_chain(config, _istio_mutual_downstream(pki), CLUSTER_MUTUAL)
    return _listener(config.name.lower(), port, [chain])


def _upstream_tls(pki: Pki, *, client: Pair | None) -> dict[str, Any]:
    # constructUpstreamTLS (cluster_tls.go), SIMPLE or MUTUAL with the DestinationRule's sni and
    # subjectAltNames: the SNI sent, the chain verified against the CA, the SAN matched exactly
    # (util.StringToExactMatch). MUTUAL adds the client certificate (credentialName's tls.crt/tls.key).
    common: dict[str, Any] = {
        "tls_params": UPSTREAM_TLS_PARAMS,
        "validation_context": {
            "trusted_ca": {"filename": str(pki.external_ca)},
            "match_typed_subject_alt_names": [{"san_type": "DNS", "matcher": {"exact": HOST}}],
        },
    }
    if client is not None:
        common["tls_certificates"] = [_cert(client)]
    return {"sni": HOST, "common_tls_context": common}


def _cluster(name: str, port: int, transport: dict[str, Any] | None) -> dict[str, Any]:
    # A ServiceEntry with resolution DNS becomes a STRICT_DNS cluster; here the "DNS name" is 127.0.0.1.
    cluster: dict[str, Any] = {
        "name": name, "type": "STATIC", "connect_timeout": "5s",
        "load_assignment": {"cluster_name": name, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": _address(port)}}]}]},
    }
    if transport is not None:
        cluster["transport_socket"] = transport
    return cluster


def _bootstrap(admin_port: int, listeners: list[dict[str, Any]], clusters: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "admin": {"address": _address(admin_port)},
        "static_resources": {"listeners": listeners, "clusters": clusters},
        # Off the hot path and identical for every configuration; keep the process quiet when idle.
        "stats_flush_interval": "60s",
    }


def gateway(ports: Ports, pki: Pki) -> dict[str, Any]:
    """The gateway: one listener per configuration, on its own port, and the host's clusters.

    PASSTHROUGH's cluster is plain TCP (the app's TLS passes through); the others originate TLS.
    """
    listeners = [gateway_listener(config, port, pki) for config, port in ports.gateway.items()]
    clusters = [
        _cluster(CLUSTER_PLAIN, ports.upstream, None),
        _cluster(CLUSTER_SIMPLE, ports.upstream, _socket("UpstreamTlsContext", _upstream_tls(pki, client=None))),
        _cluster(CLUSTER_MUTUAL, ports.upstream_mutual,
                 _socket("UpstreamTlsContext", _upstream_tls(pki, client=pki.gateway_client))),
    ]
    return _bootstrap(ports.gateway_admin, listeners, clusters)


def upstream(ports: Ports, pki: Pki) -> dict[str, Any]:
    """The external host: TLS with its certificate, a fixed small response, one port requiring client certs."""
    route = {"match": {"prefix": "/"}, "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}}}

    def listener(name: str, port: int, mutual: bool) -> dict[str, Any]:
        common: dict[str, Any] = {"tls_certificates": [_cert(pki.upstream)], "alpn_protocols": ["http/1.1"]}
        if mutual:
            common["validation_context"] = {"trusted_ca": {"filename": str(pki.external_ca)}}
        context = {"require_client_certificate": mutual, "common_tls_context": common}
        return {"name": name, "address": _address(port), "filter_chains": [{
            "transport_socket": _socket("DownstreamTlsContext", context),
            "filters": [{"name": "envoy.filters.network.http_connection_manager",
                         "typed_config": _hcm(name, route, gateway=False)}]}]}

    return _bootstrap(ports.upstream_admin, [listener("host", ports.upstream, False),
                                             listener("host_mutual", ports.upstream_mutual, True)], [])
