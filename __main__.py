"""The deployable project: every entry of the stack config `routes` becomes an EgressRoute.

    config:
      istio-egress:defaults: {gateway_namespace: istio-system}
      istio-egress:routes:
        stripe: {host: api.stripe.com, tls_mode: SIMPLE, client_namespaces: [payments]}
"""

import pulumi

from pulumi_istio_egress import EgressRoute

config = pulumi.Config()
defaults = config.get_object("defaults") or {}
routes = config.require_object("routes")
if not isinstance(routes, dict) or not isinstance(defaults, dict):
    raise ValueError("config `routes` and `defaults` must be maps; see Pulumi.dev.yaml for the shape")

for name in sorted(routes):  # sorted: the same config always declares routes in the same order
    route = EgressRoute(name, {**defaults, **routes[name]})
    pulumi.export(name, route.objects)
