"""Istio egress through an egress gateway as one typed, correct Pulumi call.

Every name below is imported on first use (PEP 562): the policy pack, the CLI and the component each
load only what they need (the component pulls in pulumi_kubernetes; the pack's start-up none of the
component's code).
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .args import Dataplane, EgressRouteArgs, RouteApi, TlsMode
    from .component import EgressRoute
    from .findings import Finding, Manifest
    from .lockdown import EgressLockdownError, Lockdown, lockdown_manifests, parse_lockdown
    from .lockdown_args import EgressLockdownArgs, InClusterEgress
    from .lockdown_component import EgressLockdown
    from .manifests import route_manifests
    from .route import EgressRouteError, Route, parse_route

__version__ = "0.1.0"

_HOMES = {
    "Dataplane": "args", "EgressRouteArgs": "args", "RouteApi": "args", "TlsMode": "args",
    "EgressRoute": "component",
    "Finding": "findings", "Manifest": "findings",
    "EgressLockdownError": "lockdown", "Lockdown": "lockdown", "lockdown_manifests": "lockdown",
    "parse_lockdown": "lockdown",
    "EgressLockdownArgs": "lockdown_args", "InClusterEgress": "lockdown_args",
    "EgressLockdown": "lockdown_component",
    "route_manifests": "manifests",
    "EgressRouteError": "route", "Route": "route", "parse_route": "route",
}
"""Where each public name lives."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})


__all__ = [
    "Dataplane",
    "EgressLockdown",
    "EgressLockdownArgs",
    "EgressLockdownError",
    "EgressRoute",
    "EgressRouteArgs",
    "EgressRouteError",
    "Finding",
    "InClusterEgress",
    "Lockdown",
    "Manifest",
    "Route",
    "RouteApi",
    "TlsMode",
    "__version__",
    "lockdown_manifests",
    "parse_lockdown",
    "parse_route",
    "route_manifests",
]
