"""Istio egress through an egress gateway as one typed, correct Pulumi call."""

from typing import TYPE_CHECKING, Any

from .args import Dataplane, EgressRouteArgs, TlsMode
from .findings import Finding, Manifest
from .manifests import route_manifests
from .route import EgressRouteError, Route, parse_route

if TYPE_CHECKING:
    from .component import EgressRoute

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # The component pulls in pulumi_kubernetes; the policy pack and the CLI never need it.
    if name == "EgressRoute":
        from .component import EgressRoute

        return EgressRoute
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Dataplane",
    "EgressRoute",
    "EgressRouteArgs",
    "EgressRouteError",
    "Finding",
    "Manifest",
    "Route",
    "TlsMode",
    "__version__",
    "parse_route",
    "route_manifests",
]
