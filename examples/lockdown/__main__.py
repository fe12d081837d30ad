"""Lockdown: the egress gateway becomes the only way out of the `payments` namespace.

The route sends https://api.stripe.com through the egress gateway; the lockdown adds a
NetworkPolicy (pods reach only DNS, in-cluster pods and the API server) and a REGISTRY_ONLY
Sidecar, so a pod that ignores the route has nowhere else to go.
"""

import pulumi

from pulumi_istio_egress import EgressLockdown, EgressLockdownArgs, EgressRoute, EgressRouteArgs, TlsMode

stripe = EgressRoute("stripe", EgressRouteArgs(
    host="api.stripe.com",
    tls_mode=TlsMode.PASSTHROUGH,
    client_namespaces=["payments"],
))
payments = EgressLockdown("payments", EgressLockdownArgs(
    namespace="payments",
    allow_cidrs=["10.0.0.1/32"],  # the API server, for pods that call it
))
pulumi.export("objects", pulumi.Output.all(stripe.objects, payments.objects).apply(lambda o: o[0] + o[1]))
