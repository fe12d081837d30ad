"""The organisation's egress rules, as plain data and pure functions; ``pack`` turns them into a
pulumi-policy pack. Compose your own pack from any subset of ``RESOURCE_RULES``/``STACK_RULES``."""

from . import (
    allowed_hosts,
    allowed_ports,
    audited_hosts,
    dns_resolution,
    egress_lockdown,
    egress_references,
    egress_via_gateway,
    egress_visibility,
    export_scope,
    gateway_api_valid,
    gateway_authorization,
    istio_valid,
    mutual_credentials,
    server_certificates,
    waypoint_binding,
    waypoint_policies,
    wildcard_hosts,
)
from .rule import ResourceRule, StackRule

RESOURCE_RULES: tuple[ResourceRule, ...] = (
    audited_hosts.RULE,
    allowed_hosts.RULE,
    wildcard_hosts.RULE,
    server_certificates.RULE,
    mutual_credentials.RULE,
    export_scope.RULE,
    dns_resolution.RULE,
    allowed_ports.RULE,
    istio_valid.RULE,
    gateway_api_valid.RULE,
)
STACK_RULES: tuple[StackRule, ...] = (
    egress_via_gateway.RULE,
    egress_references.RULE,
    egress_visibility.RULE,
    egress_lockdown.RULE,
    gateway_authorization.RULE,
    waypoint_binding.RULE,
    waypoint_policies.RULE,
)

__all__ = ["RESOURCE_RULES", "STACK_RULES", "ResourceRule", "StackRule"]
