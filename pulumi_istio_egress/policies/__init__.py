"""The organisation's egress rules, as plain data and pure functions; ``pack`` turns them into a
pulumi-policy pack. Compose your own pack from any subset of ``RESOURCE_RULES``/``STACK_RULES``.

The rule lists are built on first use (PEP 562): the pack registers its policies from
``catalog.json`` and imports a rule's module only when the rule first runs, so that importing
``pulumi_istio_egress.policies.pack`` (the pack's start-up) loads no check code.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rule import ResourceRule, StackRule

    RESOURCE_RULES: tuple[ResourceRule, ...]
    STACK_RULES: tuple[StackRule, ...]

RESOURCE_RULE_MODULES: tuple[str, ...] = (
    "audited_hosts",
    "allowed_hosts",
    "wildcard_hosts",
    "server_certificates",
    "mutual_credentials",
    "export_scope",
    "dns_resolution",
    "allowed_ports",
    "istio_valid",
    "gateway_api_valid",
)
"""The modules (each with a ``RULE``) of the resource rules, in the pack's order."""
STACK_RULE_MODULES: tuple[str, ...] = (
    "egress_via_gateway",
    "egress_references",
    "egress_visibility",
    "egress_lockdown",
    "gateway_authorization",
    "waypoint_binding",
    "waypoint_policies",
)
"""The modules of the stack rules, in the pack's order."""


def rule_of(module: str) -> Any:
    """The ``RULE`` of ``pulumi_istio_egress.policies.<module>`` (importing it on first use)."""
    return import_module(f"{__name__}.{module}").RULE


def __getattr__(name: str) -> Any:
    if name in ("RESOURCE_RULES", "STACK_RULES"):
        modules = RESOURCE_RULE_MODULES if name == "RESOURCE_RULES" else STACK_RULE_MODULES
        value = tuple(rule_of(m) for m in modules)
        globals()[name] = value
        return value
    if name in ("ResourceRule", "StackRule"):
        from . import rule

        return getattr(rule, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["RESOURCE_RULES", "RESOURCE_RULE_MODULES", "STACK_RULES", "STACK_RULE_MODULES", "ResourceRule",
           "StackRule", "rule_of"]
