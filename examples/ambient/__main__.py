"""Ambient egress: the waypoint in `istio-egress` is the egress point. GitHub's route makes the
waypoint; apps in `ci` call http://api.github.com and the waypoint originates TLS to GitHub,
verifying its name, and admits only `ci`. Stripe's route shares that waypoint: apps in `payments`
speak TLS end to end through it, and only `payments` may use it.

Client namespaces need `istio.io/dataplane-mode=ambient`; to forbid egress around the waypoint,
add NetworkPolicy (see README, "Ambient").
"""

import pulumi

from pulumi_istio_egress import Dataplane, EgressRoute, EgressRouteArgs, TlsMode

github = EgressRoute("github", EgressRouteArgs(
    host="api.github.com",
    tls_mode=TlsMode.SIMPLE,
    dataplane=Dataplane.AMBIENT,
    client_namespaces=["ci"],
    authorization_policy=True,
))
stripe = EgressRoute("stripe", EgressRouteArgs(
    host="api.stripe.com",
    tls_mode=TlsMode.PASSTHROUGH,
    dataplane=Dataplane.AMBIENT,
    client_namespaces=["payments"],
    waypoint="egress-api-github-com-waypoint",  # the waypoint github's route makes
    authorization_policy=True,
))
pulumi.export("objects", pulumi.Output.all(github.objects, stripe.objects).apply(lambda o: o[0] + o[1]))
pulumi.export("waypoint", github.gateway_name)
