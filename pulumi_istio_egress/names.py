"""Syntax of the names Istio and Kubernetes accept, as plain predicates that explain themselves.

Each ``*_problem`` function returns ``None`` for an acceptable value, else a short sentence saying
what is wrong. The component's argument checks and the policy rules both use these, so a value the
component accepts is one the policy pack accepts.
"""

from __future__ import annotations

import hashlib
import re

from .gosyntax import netip_addr_ok

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Istio's own host labels allow upper case (pkg/config/labels); Kubernetes object names do not.
_HOST_LABEL = re.compile(r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_KEY_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")

MAX_LABEL = 63
MAX_SUBDOMAIN = 253
MAX_HOST = 255

MESH = "mesh"
"""The reserved gateway name meaning every sidecar (``constants.IstioMeshGateway`` in istio)."""
ISTIO_CRDS_ENV = "ISTIO_CRDS"
"""The environment variable naming Istio's CRD files (``os.pathsep``-separated), read by istio-valid's
CRD layer and the conformance tests; kept here because importing ``conformance`` is costly."""


def dns1123_label_problem(value: str) -> str | None:
    """Namespaces, subset names, port names: an RFC 1123 label."""
    if not value:
        return "it is empty"
    if len(value) > MAX_LABEL:
        return f"it is {len(value)} characters long; the limit is {MAX_LABEL}"
    if not _LABEL.fullmatch(value):
        return "it must be lower-case letters, digits and '-', starting and ending with a letter or digit"
    return None


def dns1123_subdomain_problem(value: str) -> str | None:
    """Object names (Secrets, Istio objects): an RFC 1123 subdomain."""
    if not value:
        return "it is empty"
    if len(value) > MAX_SUBDOMAIN:
        return f"it is {len(value)} characters long; the limit is {MAX_SUBDOMAIN}"
    if not _SUBDOMAIN.fullmatch(value):
        return "it must be lower-case letters, digits, '-' and '.', each part starting and ending alphanumeric"
    return None


def host_problem(host: str, *, allow_wildcard: bool = True, allow_short: bool = True) -> str | None:
    """A host as Istio's webhook accepts it in ServiceEntry/Gateway/VirtualService ``hosts``.

    ``allow_wildcard`` admits a leading ``*.`` (or ``*`` alone); ``allow_short`` admits a name
    without a dot (Istio resolves it against the object's namespace).
    """
    if not host:
        return "it is empty"
    if "://" in host:
        return "it has a URL scheme"
    if "/" in host:
        return "it has a path"
    if _is_ip(host):
        return "it is an IP address, not a host name"
    if ":" in host:
        return "it has a port"
    if len(host) > MAX_HOST:
        return f"it is {len(host)} characters long; the limit is {MAX_HOST}"
    name = host
    if host == "*" or host.startswith("*."):
        if not allow_wildcard:
            return "it is a wildcard"
        if host == "*":
            return None
        name = host[2:]
    elif "*" in host:
        return "'*' may only stand alone as the first label ('*.example.com')"
    labels = name.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels = labels[:-1]  # a trailing dot marks a fully qualified name; Istio allows it
    if labels[-1].isdigit():
        return f"its top-level domain {labels[-1]!r} is all digits"
    for label in labels:
        if not label:
            return "it has an empty label ('..' or a leading '.')"
        if "_" in label:
            return f"its label {label!r} has an underscore, which DNS host names cannot have"
        if len(label) > MAX_LABEL:
            return f"its label {label!r} is longer than {MAX_LABEL} characters"
        if not _HOST_LABEL.fullmatch(label):
            return f"its label {label!r} must be letters, digits and '-', not starting or ending with '-'"
    if not allow_short and len(labels) < 2:
        return "it is a short name; external hosts need a fully qualified name"
    return None


def label_key_problem(key: str) -> str | None:
    """A Kubernetes label key: optional DNS-subdomain prefix and a name of at most 63 characters."""
    prefix, _, name = key.rpartition("/")
    if prefix and dns1123_subdomain_problem(prefix):
        return f"its prefix {prefix!r} is not a DNS subdomain"
    if not name or len(name) > MAX_LABEL or not _LABEL_KEY_NAME.fullmatch(name):
        return "its name part must be 1-63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
    return None


def label_value_problem(value: str) -> str | None:
    """A Kubernetes label value: empty, or at most 63 characters of the label-name alphabet."""
    if value and (len(value) > MAX_LABEL or not _LABEL_KEY_NAME.fullmatch(value)):
        return "it must be at most 63 letters, digits, '-', '_' or '.', starting and ending alphanumeric"
    return None


def _is_ip(text: str) -> bool:
    """An IP address, bracketed or not, as Go's ``netip.ParseAddr`` reads one (zones included)."""
    return netip_addr_ok(text[1:-1] if text.startswith("[") and text.endswith("]") else text)


def object_name(prefix: str, host: str, suffix: str = "", limit: int = MAX_LABEL) -> str:
    """A stable RFC 1123 object name for ``host``: ``<prefix>-<host-with-dashes>[-<suffix>]``.

    Names longer than ``limit`` keep their start and end a hash of the host, so they are unique,
    still readable and the same in every release (renaming would replace live objects).
    """
    slug = host.lower().rstrip(".").replace("*", "wildcard").replace(".", "-")
    tail = f"-{suffix}" if suffix else ""
    name = f"{prefix}-{slug}{tail}"
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(host.encode()).hexdigest()[:10]
    room = limit - len(prefix) - len(tail) - len(digest) - 2
    return f"{prefix}-{slug[:room].rstrip('-')}-{digest}{tail}"
