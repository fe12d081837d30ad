"""The policy-pack client: a Python pulumi-policy pack driven over the Analyzer gRPC protocol, the
way the Pulumi CLI drives it. ``wire`` holds the protocol's data and marshalling, ``config`` the
CLI's config rules, ``process`` the running pack."""

from ..redaction import Secret
from .config import reconcile_config
from .process import PolicyPackError, PolicyPackProcess, analyze_all, run_pack
from .wire import LEVELS, UNKNOWN, PackInfo, PolicyInfo, Resource, Violation

__all__ = [
    "LEVELS",
    "UNKNOWN",
    "PackInfo",
    "PolicyInfo",
    "PolicyPackError",
    "PolicyPackProcess",
    "Resource",
    "Secret",
    "Violation",
    "analyze_all",
    "reconcile_config",
    "run_pack",
]
