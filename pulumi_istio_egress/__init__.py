"""Istio egress through an egress gateway as one typed, correct Pulumi call."""

from .args import EgressRouteArgs, TlsMode
from .component import EgressRoute
from .findings import Finding, Manifest
from .manifests import route_manifests
from .route import EgressRouteError, Route, parse_route

__version__ = "0.1.0"

__all__ = [
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
