"""How each ``EgressRouteArgs`` field is checked on its own, and the error that names it.

Cross-field rules (which mode needs or refuses which field) live in ``route``, which builds the
``Route`` from these.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, ClassVar, TypeVar

from .args import Dataplane, TlsMode
from .jsontypes import whole_number
from .names import (
    dns1123_label_problem,
    dns1123_subdomain_problem,
    host_problem,
    label_key_problem,
    label_value_problem,
)


class EgressRouteError(ValueError):
    """Bad ``EgressRoute`` input: the message names the field, the value and the fix."""

    component: ClassVar[str] = "EgressRoute"
    """The component named in front of the message; subclasses for other components set their own."""

    def __init__(self, field: str, value: Any, problem: str, fix: str, route: str | None = None,
                 config_fix: str | None = None) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        self.fix = fix
        self.route = route
        self.config_fix = config_fix
        """The fix in stack-config (YAML) terms, where it differs from the Python one."""
        where = f"{self.component} {route!r}: " if route else ""
        super().__init__(f"{where}{field}={_show(value)} is invalid: {problem}. Fix: {fix}")

    def for_route(self, route: str) -> EgressRouteError:
        """The same error (same class), naming the resource it came from."""
        return type(self)(self.field, self.value, self.problem, self.fix, route, self.config_fix)

    def in_config(self, where: str) -> str:
        """The error as a stack-config user reads it: ``<where>: tls_mode: simple is invalid: ...``,
        the value written as YAML and the fix in YAML terms (no ``TlsMode.SIMPLE``)."""
        fix = self.config_fix or self.fix
        if self.value is None and self.problem == "it is required":
            return f"{where}: {self.field} is missing; it is required. Fix: {fix}"
        return f"{where}: {self.field}: {yaml_value(self.value)} is invalid: {self.problem}. Fix: {fix}"


_PLAIN_YAML = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "y", "n", "null"}


def yaml_value(value: Any) -> str:
    """``value`` as it would be written in stack config: plain where YAML reads it back as the same
    string, else JSON (which YAML reads too)."""
    if isinstance(value, TlsMode):
        value = value.value
    if isinstance(value, str) and _PLAIN_YAML.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _show(value: Any) -> str:
    if isinstance(value, (TlsMode, Dataplane)):
        return repr(value.value)
    return repr(value)


def parse_host(value: Any) -> str:
    if not isinstance(value, str):
        raise EgressRouteError("host", value, "it is not a string", "pass the host name as a string")
    problem = host_problem(value, allow_wildcard=False, allow_short=False)
    if problem is None and value != value.lower():
        problem = "it has upper-case letters; host names are case-insensitive and objects are named after them"
    if problem is None and value.endswith("."):
        problem = "it ends with '.'"
    if problem:
        raise EgressRouteError("host", value, problem, _host_fix(value))
    return value


def _host_fix(value: str) -> str:
    bare = value.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0].strip(".").lower()
    if value.startswith("*") or "*" in value:
        return "name each concrete host in its own EgressRoute (wildcard egress cannot originate TLS)"
    if bare and bare != value and host_problem(bare, allow_wildcard=False, allow_short=False) is None:
        has_port = ":" in value.split("://")[-1]
        return f"pass the bare host name {bare!r}" + (" and set `port` separately" if has_port else "")
    return "pass a fully qualified DNS name such as 'api.example.com'"


def parse_optional_host(field: str, value: Any) -> str | None:
    if value is None:
        return None
    problem = (host_problem(value, allow_wildcard=False, allow_short=False)
               if isinstance(value, str) else "it is not a string")
    if problem:
        raise EgressRouteError(field, value, problem, "give a fully qualified DNS name, e.g. 'api.stripe.com'")
    return str(value)


def parse_port(field: str, value: Any, default: int) -> int:
    if value is None:
        return default
    number = whole_number(value)  # Pulumi hands numbers over the wire as floats
    if number is None:
        raise EgressRouteError(field, value, "it is not an integer", f"pass a port number, e.g. {default}")
    if not 1 <= number <= 65535:
        raise EgressRouteError(field, number, "it is outside 1-65535", f"pass a port number, e.g. {default}")
    return number


def parse_names(field: str, value: Any, problem_of: Callable[[str], str | None], example: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise EgressRouteError(field, value, "it is not a list of strings", f"pass a list, {example}")
    seen: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise EgressRouteError(field, item, "it is not a string", f"pass a list of strings, {example}")
        problem = problem_of(item)
        if problem:
            raise EgressRouteError(field, item, problem, f"fix or remove this entry; {example}")
        if item in seen:
            raise EgressRouteError(field, item, "it is listed twice", "list each entry once")
        seen.append(item)
    return tuple(seen)


def namespace_problem(value: str) -> str | None:
    if value in ("*", ".", "~"):
        return f"{value!r} is an exportTo keyword, not a namespace; this route is exported to named namespaces"
    return dns1123_label_problem(value)


def san_problem(value: str) -> str | None:
    return None if value.strip() == value and value else "it is empty or has surrounding spaces"


def account_problem(value: str) -> str | None:
    namespace, slash, name = value.partition("/")
    if not slash:
        return "it is not of the form namespace/name"
    return dns1123_label_problem(namespace) or dns1123_subdomain_problem(name)


def service_problem(fqdn: str, namespace: str) -> str | None:
    """The gateway Service must be named in full (`<name>.<namespace>.svc.<domain>`): the subset's
    DestinationRule lives in each client namespace, where a short name would mean a local Service."""
    labels = fqdn.split(".")
    if len(labels) < 4 or labels[2] != "svc":
        return "it is not a Kubernetes Service FQDN (<name>.<namespace>.svc.<cluster domain>)"
    if labels[1] != namespace:
        return f"its namespace {labels[1]!r} is not gateway_namespace {namespace!r}"
    return None


def parse_namespace(field: str, value: Any) -> str:
    problem = dns1123_label_problem(value) if isinstance(value, str) else "it is not a string"
    if problem:
        raise EgressRouteError(field, value, problem, "give a namespace name such as 'istio-system'")
    return str(value)


def parse_secret(field: str, value: Any) -> str | None:
    if value is None:
        return None
    problem = dns1123_subdomain_problem(value) if isinstance(value, str) else "it is not a string"
    if problem:
        raise EgressRouteError(field, value, problem, "name a Secret in the gateway namespace, e.g. 'stripe-client'")
    return str(value)


def parse_selector(value: Any) -> tuple[tuple[str, str], ...]:
    fix = "pass the egress gateway's pod labels, e.g. {'istio': 'egressgateway'}"
    if not isinstance(value, Mapping) or not value:
        raise EgressRouteError("gateway_selector", value, "it is not a non-empty mapping of labels", fix)
    for key, label in value.items():
        problem = (label_key_problem(key) if isinstance(key, str) else "its key is not a string") or (
            label_value_problem(label) if isinstance(label, str) else "its value is not a string")
        if problem:
            raise EgressRouteError("gateway_selector", {key: label}, problem, fix)
    return tuple(sorted(value.items()))

E = TypeVar("E", bound=Enum)


def parse_enum(kind: type[E], field: str, value: Any, noun: str, case_hint: str) -> E:
    """``value`` as a member of ``kind``, else an error that names the members (and the right case,
    when only the case is wrong)."""
    try:
        return kind(value)
    except ValueError:
        upper = value.upper() if isinstance(value, str) else None
        hint = f" ({case_hint}: {upper!r})" if upper in kind.__members__ else ""
        raise EgressRouteError(
            field, value, f"it is not a known {noun}" + hint, "use one of " + ", ".join(repr(m.value) for m in kind),
        ) from None
