"""SIMPLE origination, Istio's documented pattern: apps call http://api.github.com, the sidecar
wraps it in mTLS to the egress gateway, and the gateway originates TLS to GitHub, verifying its
certificate. Only workloads of the `ci` namespace may use the route.
"""

import pulumi

from pulumi_istio_egress import EgressRoute, EgressRouteArgs, TlsMode

github = EgressRoute("github", EgressRouteArgs(
    host="api.github.com",
    tls_mode=TlsMode.SIMPLE,
    client_namespaces=["ci"],
    subject_alt_names=["api.github.com"],
    authorization_policy=True,
))
pulumi.export("objects", github.objects)
