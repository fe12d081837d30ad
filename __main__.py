"""The deployable project: every entry of the stack config `routes` becomes an EgressRoute, and
every entry of the optional `lockdowns` an EgressLockdown.

    config:
      istio-egress:defaults: {gateway_namespace: istio-system}
      istio-egress:routes:
        stripe: {host: api.stripe.com, tls_mode: SIMPLE, client_namespaces: [payments]}
      istio-egress:lockdowns:
        payments: {namespace: payments}

Errors speak the stack config's language: `istio-egress:routes.stripe.tls_mode: simple is invalid: ...`,
with YAML values and fixes, and without a Python traceback (pulumi.RunError).
"""

import pulumi

from pulumi_istio_egress import EgressLockdown, EgressLockdownError, EgressRoute, EgressRouteError
from pulumi_istio_egress.route import yaml_value

config = pulumi.Config()
defaults = config.get_object("defaults") or {}
routes = config.require_object("routes")


def refuse(key: str, value: object, problem: str, fix: str) -> None:
    raise pulumi.RunError(f"{key}: {yaml_value(value)} is invalid: {problem}. Fix: {fix}")


if not isinstance(defaults, dict):
    refuse("istio-egress:defaults", defaults, "it is not a map of EgressRouteArgs fields",
           "write it as a map, e.g. {gateway_namespace: istio-system}")
if not isinstance(routes, dict) or not routes:
    refuse("istio-egress:routes", routes, "it is not a non-empty map of route name to fields",
           "write it as a map, e.g. {stripe: {host: api.stripe.com, tls_mode: SIMPLE, client_namespaces: [payments]}}")

for name in sorted(routes):  # sorted: the same config always declares routes in the same order
    fields = routes[name]
    if not isinstance(fields, dict):
        refuse(f"istio-egress:routes.{name}", fields, "it is not a map of EgressRouteArgs fields",
               "give host, tls_mode and client_namespaces as a map")
    try:
        route = EgressRoute(name, {**defaults, **fields})
    except EgressRouteError as error:
        # A field set in defaults is reported where it was written.
        where = "istio-egress:defaults" if error.field in defaults and error.field not in fields else \
            f"istio-egress:routes.{name}"
        raise pulumi.RunError(error.in_config(where)) from None
    pulumi.export(name, route.objects)

# `defaults` holds EgressRouteArgs fields, so lockdowns do not take them: each entry is complete.
lockdowns = config.get_object("lockdowns") or {}
if not isinstance(lockdowns, dict):
    refuse("istio-egress:lockdowns", lockdowns, "it is not a map of lockdown name to fields",
           "write it as a map, e.g. {payments: {namespace: payments}}")
for name in sorted(lockdowns):
    fields = lockdowns[name]
    if not isinstance(fields, dict):
        refuse(f"istio-egress:lockdowns.{name}", fields, "it is not a map of EgressLockdownArgs fields",
               "give at least namespace as a map")
    try:
        lockdown = EgressLockdown(name, fields)
    except EgressLockdownError as error:
        raise pulumi.RunError(error.in_config(f"istio-egress:lockdowns.{name}")) from None
    pulumi.export(f"{name}-lockdown", lockdown.objects)
