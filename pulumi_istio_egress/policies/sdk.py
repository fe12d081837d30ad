"""The one place that reads pulumi-policy's private internals.

pulumi-policy hands a policy its resource properties wrapped in ``_DictProxy``/``_ListProxy``
objects (``pulumi_policy/proxy.py``) that raise ``UnknownValueError`` when a value unknown during
preview is read. The proxies are built eagerly, one per container, and reading them item by item
costs a Python call and an exception check per value. We read the plain containers behind them
(``proxy["__target"]``) and recognise unknown values by the SDK's sentinel strings. Remediate
wraps its properties in other proxies (``pulumi_policy/secret.py``), read the same way.

Checked against pulumi-policy 1.20 and 1.21 (the range ``pyproject.toml`` allows); ``SDK_CHECKED``
says so, and ``tests/test_sdk_internals.py`` fails loudly when an upgrade changes any of it.
"""

from __future__ import annotations

import gc
import sys
from typing import Any

from ..extras import requires_extra

with requires_extra("the istio-egress policy pack"):
    from pulumi_policy import policy as _policy
    from pulumi_policy import proxy as _proxy
    from pulumi_policy import secret as _secret
    from pulumi_policy.proxy import UnknownValueError

SDK_CHECKED = ">=1.20,<2"
"""The pulumi-policy versions this module was read against."""

_DICT = _proxy._DictProxy
_LIST = _proxy._ListProxy
_SECRETS_DICT = _secret._DictSecretsProxy
_SECRETS_LIST = _secret._ListSecretsProxy
_PROXIES = frozenset({_DICT, _LIST, _SECRETS_DICT, _SECRETS_LIST})
UNKNOWN_SENTINELS: frozenset[str] = frozenset({
    _proxy.UNKNOWN_BOOLEAN_VALUE, _proxy.UNKNOWN_NUMBER_VALUE, _proxy.UNKNOWN_STRING_VALUE,
    _proxy.UNKNOWN_ARRAY_VALUE, _proxy.UNKNOWN_ASSET_VALUE, _proxy.UNKNOWN_ARCHIVE_VALUE,
    _proxy.UNKNOWN_OBJECT_VALUE,
})
"""The strings pulumi-policy puts where a value is unknown during preview."""


def is_unknown(value: Any) -> bool:
    return type(value) is str and value in UNKNOWN_SENTINELS


def unwrap(value: Any) -> tuple[Any, bool]:
    """The plain dicts/lists behind pulumi-policy's proxies, and whether any value is unknown.

    One pass; sentinels are kept in place (``blank_unknowns`` finds them when the flag says so).
    Anything that is not a proxy is returned as it is (plain containers are copied)."""
    # A module-level walk, not a recursive closure: a nested function that calls itself is a reference
    # cycle (function -> cell -> function), 4 objects of garbage per object that only the cyclic
    # collector frees (all of the 4,000 a 1,000-object AnalyzeStack left to it).
    unknown: list[bool] = []
    return _walk(value, unknown), bool(unknown)


def _walk(item: Any, unknown: list[bool]) -> Any:
    kind = type(item)
    if kind is _DICT or kind is dict:
        target = item["__target"] if kind is _DICT else item
        return {str(key): _walk(sub, unknown) for key, sub in target.items()}
    if kind is _LIST or kind is list:
        target = item["__target"] if kind is _LIST else item
        return [_walk(sub, unknown) for sub in target]
    if kind is str and item in UNKNOWN_SENTINELS and not unknown:
        unknown.append(True)
    return item


def remediation_props(value: Any) -> Any:
    """Plain dicts and lists from the properties pulumi-policy hands a remediation.

    Remediate wraps them in ``secrets_preserving_proxy`` (``pulumi_policy/secret.py``), which reads
    secret values as plain ones; returning those would write a secret back unencrypted. So, as
    :func:`unwrap` does for Analyze's proxies, read the containers behind both layers of proxies
    (``proxy["__target"]``; ``unknown_checking_proxy`` around ``secrets_preserving_proxy``), where
    secrets are still ``pulumi_policy.Secret``: a rule sees a Secret as a value it does not
    understand, and the returned properties carry it as it came."""
    kind = type(value)
    while kind in _PROXIES:  # Remediate's: the unknown-checking proxy around the secrets proxy
        value = value["__target"]
        kind = type(value)
    if kind is dict:
        return {str(key): remediation_props(item) for key, item in value.items()}
    if kind is list:
        return [remediation_props(item) for item in value]
    return value


def blank_unknowns(plain: Any, path: str = "") -> list[tuple[str, str]]:
    """Replace every unknown value in an unwrapped value by ``None`` (rules judge it as unset) and
    return ``(property path, sentinel)`` of each, in order."""
    found: list[tuple[str, str]] = []
    if isinstance(plain, dict):
        for key, sub in plain.items():
            if is_unknown(sub):
                found.append((f"{path}.{key}" if path else key, sub))
                plain[key] = None
            else:
                found += blank_unknowns(sub, f"{path}.{key}" if path else key)
    elif isinstance(plain, list):
        for index, sub in enumerate(plain):
            if is_unknown(sub):
                found.append((f"{path}[{index}]", sub))
                plain[index] = None
            else:
                found += blank_unknowns(sub, f"{path}[{index}]")
    return found


def raise_unknown(path: str, sentinel: str) -> None:
    """Tell pulumi-policy a value could not be judged: it reports "can't run policy ... during
    preview" as an advisory, naming the path."""
    raise UnknownValueError(sentinel, path.replace("[", ".").replace("]", "").split("."))


NotApplicableError = _policy._NotApplicableError
"""What ``args.not_applicable(reason)`` raises (``.reason``), for tests."""

_SERVICER_FILE = _policy.__file__


def servicer_request(method: str) -> Any | None:
    """The gRPC request of the servicer call ``method`` (``Analyze`` or ``AnalyzeStack``) that is
    running the current policy, or ``None`` when called any other way.

    pulumi-policy's ``_PolicyAnalyzerServicer`` (``pulumi_policy/policy.py``) runs every policy of
    the pack, one after the other, for the one request, and rebuilds the properties for each
    (``deserialize_properties(MessageToDict(...))`` per policy, in ``Analyze`` and in
    ``AnalyzeStack``). Knowing the request lets the policies convert it once and share it
    (``pack.resource_manifest``, ``pack.stack_manifests``); identical content is guaranteed because
    it is the same request. Found by walking up to the servicer's frame: there is no public way."""
    frame = sys._getframe(1)
    for _ in range(16):
        frame = frame.f_back  # type: ignore[assignment]
        if frame is None:
            return None
        code = frame.f_code
        if code.co_name == method and code.co_filename == _SERVICER_FILE:
            return frame.f_locals.get("request")
    return None


def analyze_stack_request() -> Any | None:
    """The request of the running ``AnalyzeStack`` (``servicer_request``)."""
    return servicer_request("AnalyzeStack")


def analyze_request() -> Any | None:
    """The request of the running ``Analyze`` (``servicer_request``)."""
    return servicer_request("Analyze")


YOUNG_THRESHOLD = 100_000
"""Generation 0's threshold in a pack process (``tune_gc``), for stacks up to ``YOUNG_THRESHOLD /
YOUNG_PER_RESOURCE`` resources; larger stacks raise it (``size_young_generation``)."""
YOUNG_PER_RESOURCE = 100
"""Containers per stack resource alive at once in AnalyzeStack: the SDK rebuilds every resource's
props for each stack policy (~40 containers a resource, measured) and holds the previous policy's
until the next one's are built."""

_tuned = False


def tune_gc() -> None:
    """For a pack process: CPython's cyclic collector was half of AnalyzeStack's time, triggered by
    the SDK's allocations (``MessageToDict`` and the proxies), none of which form cycles that must
    be freed early. Freeze what start-up created and collect far less often."""
    global _tuned
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, 50, 1000)
    _tuned = True


def size_young_generation(resources: int) -> None:
    """In a pack process tuned by ``tune_gc``: generation 0's threshold sized to an AnalyzeStack of
    ``resources`` resources (never below ``YOUNG_THRESHOLD``).

    With a fixed threshold the collector's cost grew with the square of the stack: the SDK's
    per-policy props are live data, and once they outgrow the threshold every collection scans ~90,000
    of them to free nothing. 1,000 objects: 1 gen-0 collection per AnalyzeStack (0.07 s); 10,000: 34
    (3-5 s) plus a gen-1 one (2 s), about a fifth of the pack's CPU. A threshold proportional to the
    live data (CPython's free-threaded collector scales its own to the live heap "to avoid quadratic
    behavior") keeps collections per request constant, so their cost grows linearly; the collector
    stays on and still frees any cycle."""
    if _tuned:
        threshold = max(YOUNG_THRESHOLD, YOUNG_PER_RESOURCE * resources)
        _, middle, old = gc.get_threshold()
        gc.set_threshold(threshold, middle, old)


__all__ = [
    "SDK_CHECKED",
    "UNKNOWN_SENTINELS",
    "NotApplicableError",
    "UnknownValueError",
    "analyze_request",
    "analyze_stack_request",
    "blank_unknowns",
    "is_unknown",
    "raise_unknown",
    "remediation_props",
    "servicer_request",
    "size_young_generation",
    "tune_gc",
    "unwrap",
]
