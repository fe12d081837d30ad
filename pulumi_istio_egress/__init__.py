"""Istio egress through an egress gateway as one typed, correct Pulumi call."""

from typing import TYPE_CHECKING, Any

from .args import Dataplane, EgressRouteArgs, RouteApi, TlsMode
from .findings import Finding, Manifest
from .lockdown import EgressLockdownError, Lockdown, lockdown_manifests, parse_lockdown
from .lockdown_args import EgressLockdownArgs, InClusterEgress
from .manifests import route_manifests
from .route import EgressRouteError, Route, parse_route

if TYPE_CHECKING:
    from .component import EgressRoute
    from .lockdown_component import EgressLockdown

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The component pulls in pulumi_kubernetes; the policy pack and the CLI never need it.
    if name == "EgressRoute":
        from .component import EgressRoute

        return EgressRoute
    if name == "EgressLockdown":
        from .lockdown_component import EgressLockdown

        return EgressLockdown
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

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
