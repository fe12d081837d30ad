"""The deployable project: every entry of the stack config `routes` becomes an EgressRoute.

    config:
      istio-egress:defaults: {gateway_namespace: istio-system}
      istio-egress:routes:
        stripe: {host: api.stripe.com, tls_mode: SIMPLE, client_namespaces: [payments]}
"""

import pulumi

from pulumi_istio_egress import EgressLockdown, EgressLockdownError, EgressRoute, EgressRouteError

config = pulumi.Config()
defaults = config.get_object("defaults") or {}
routes = config.require_object("routes")
if not isinstance(defaults, dict):
    raise EgressRouteError("istio-egress:defaults", defaults, "it is not a map of EgressRouteArgs fields",
                           "write it as a map, e.g. {gateway_namespace: istio-system}")
if not isinstance(routes, dict) or not routes:
    raise EgressRouteError("istio-egress:routes", routes, "it is not a non-empty map of route name to fields",
                           "write it as a map, e.g. {stripe: {host: api.stripe.com, tls_mode: SIMPLE, "
                           "client_namespaces: [payments]}}")

for name in sorted(routes):  # sorted: the same config always declares routes in the same order
    fields = routes[name]
    if not isinstance(fields, dict):
        raise EgressRouteError(f"istio-egress:routes.{name}", fields, "it is not a map of EgressRouteArgs fields",
                               "give host, tls_mode and client_namespaces as a map")
    route = EgressRoute(name, {**defaults, **fields})
    pulumi.export(name, route.objects)

# Every entry of the optional `lockdowns` becomes an EgressLockdown, e.g.
#   istio-egress:lockdowns: {payments: {namespace: payments}}
# `defaults` holds EgressRouteArgs fields, so lockdowns do not take them: each entry is complete.
lockdowns = config.get_object("lockdowns") or {}
if not isinstance(lockdowns, dict):
    raise EgressLockdownError("istio-egress:lockdowns", lockdowns, "it is not a map of lockdown name to fields",
                              "write it as a map, e.g. {payments: {namespace: payments}}")
for name in sorted(lockdowns):
    fields = lockdowns[name]
    if not isinstance(fields, dict):
        raise EgressLockdownError(f"istio-egress:lockdowns.{name}", fields,
                                  "it is not a map of EgressLockdownArgs fields", "give at least namespace as a map")
    lockdown = EgressLockdown(name, fields)
    pulumi.export(f"{name}-lockdown", lockdown.objects)
