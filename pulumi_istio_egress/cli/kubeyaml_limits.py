"""Checks the API server makes before anything is stored, so no rule ever sees an object it would refuse.

An object's JSON past the request body limit, ``metadata.name``/``namespace`` and label keys and
values past their lengths, and (in Istio objects) hosts longer than Istio's 255 characters. NaN
and infinities are refused too: Go's JSON encoder cannot write them, so kubectl fails.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from .kubeyaml_scalars import ManifestError, shorten

MAX_REQUEST_BYTES = 3 * 1024 * 1024
"""kube-apiserver's default limit on a request body (``MaxRequestBodyBytes``, 3 MiB)."""
MAX_NAME = 253  # apimachinery ValidateObjectMeta: names are DNS subdomains (custom resources too)
MAX_NAMESPACE = 63  # namespaces are DNS labels
MAX_LABEL_VALUE = 63  # apimachinery validation.IsValidLabelValue
MAX_LABEL_PREFIX = 253  # apimachinery validation.IsQualifiedName: `prefix/name`, prefix a DNS subdomain
MAX_LABEL_NAME = 63
MAX_HOST = 255  # Istio pkg/config/validation/agent checkDNS1123Preconditions: "domain name too long (max 255)"
_ISTIO_GROUPS = ("networking.istio.io/", "security.istio.io/")


def checked(manifest: dict[str, Any], place: str, quote: Callable[[str], str] = shorten) -> dict[str, Any]:
    """Refuse what the API server refuses before it looks at the object's kind; ``quote`` shows values."""
    try:
        size = len(json.dumps(manifest, allow_nan=False, separators=(",", ":")))
    except ValueError:
        raise ManifestError(
            f"{place}: it holds a NaN or infinite number, which JSON (and so kubectl) cannot carry"
        ) from None
    if size > MAX_REQUEST_BYTES:
        raise ManifestError(
            f"{place}: the object is {size} bytes as JSON; the API server's request limit is {MAX_REQUEST_BYTES}"
        )
    metadata = manifest.get("metadata")
    if isinstance(metadata, dict):
        for key, limit in (("name", MAX_NAME), ("namespace", MAX_NAMESPACE)):
            value = metadata.get(key)
            if isinstance(value, str) and len(value) > limit:
                raise ManifestError(
                    f"{place}: metadata.{key} is {len(value)} characters long; Kubernetes allows {limit}"
                    f" (got {quote(value)})"
                )
    if isinstance(metadata, dict) and isinstance(metadata.get("labels"), dict):
        for key, value in metadata["labels"].items():
            prefix, _, name = key.rpartition("/")
            for what, text, limit in (
                (f"the label key {quote(key)}'s prefix", prefix, MAX_LABEL_PREFIX),
                (f"the label key {quote(key)}'s name", name, MAX_LABEL_NAME),
                (f"the value of label {quote(key)}", value if isinstance(value, str) else "", MAX_LABEL_VALUE),
            ):
                if len(text) > limit:
                    raise ManifestError(
                        f"{place}: metadata.labels: {what} is {len(text)} characters long; Kubernetes allows {limit}"
                    )
    if str(manifest.get("apiVersion")).startswith(_ISTIO_GROUPS):
        for path, host in _hosts(manifest.get("spec")):
            if len(host) > MAX_HOST:
                raise ManifestError(
                    f"{place}: {path} is a host of {len(host)} characters; Istio allows {MAX_HOST}"
                    f" (got {quote(host)})"
                )
    return manifest


def _hosts(spec: Any) -> Iterator[tuple[str, str]]:
    """``(path, host)`` of every ``host: x`` and ``hosts: [x]`` string under ``spec``, any depth, iteratively.

    Covers ServiceEntry/VirtualService ``hosts``, DestinationRule ``host``, route destinations, Gateway
    and Sidecar ``namespace/host`` entries (the host is the part after the ``/``).
    """
    stack: list[tuple[str, Any]] = [("spec", spec)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "host" and isinstance(item, str):
                    yield f"{path}.host", item
                elif key == "hosts" and isinstance(item, list):
                    for index, host in enumerate(item):
                        if isinstance(host, str):
                            yield f"{path}.hosts[{index}]", host.rpartition("/")[2]
                else:
                    stack.append((f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{index}]", item) for index, item in enumerate(value))


def limit_problem(manifest: dict[str, Any], place: str) -> str | None:
    """What :func:`read` would refuse in an object that did not come from YAML (a program's), else None.

    Lengths are those of the secret values too (the pack sees them); the message never quotes one.
    """
    from .redaction import REDACTED, reveal, scrub, secret_texts

    secrets = secret_texts([manifest])
    try:
        # With secrets inside, no value is quoted: a shortened quote would escape the scrubbing.
        checked(reveal(manifest), place, quote=(lambda _text: repr(REDACTED)) if secrets else shorten)
    except ManifestError as exc:
        return scrub(str(exc), secrets)
    return None
