"""PASSTHROUGH: apps call https://api.stripe.com; the egress gateway forwards their TLS untouched.

End-to-end TLS and cheap, but the gateway sees no HTTP: no status codes, no request policy.
"""

import pulumi

from pulumi_istio_egress import EgressRoute, EgressRouteArgs, TlsMode

stripe = EgressRoute("stripe", EgressRouteArgs(
    host="api.stripe.com",
    tls_mode=TlsMode.PASSTHROUGH,
    client_namespaces=["payments"],
))
pulumi.export("objects", stripe.objects)
