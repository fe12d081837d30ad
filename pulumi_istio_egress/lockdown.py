"""The pure core of ``EgressLockdown``: checked arguments, then a NetworkPolicy and a Sidecar as plain dicts.

Why both objects. Istio says it cannot securely enforce that traffic leaves through the egress
gateway (egress-gateway task, "Additional security considerations"): a pod can open a socket to any
IP, and a sidecar in ``REGISTRY_ONLY`` mode only refuses hosts it does not know. The NetworkPolicy
is the network-level part: every pod of the namespace may reach DNS, in-cluster pods (the egress
gateway among them) and listed CIDRs, nothing else. The Sidecar is the mesh-level part: its
sidecars send unknown hosts to the BlackHole cluster instead of passing them through.

Kubernetes facts the NetworkPolicy relies on: ``podSelector: {}`` selects every pod of its
namespace; listing ``Egress`` in ``policyTypes`` isolates them for egress even where no rule
matches; peers with a ``namespaceSelector``/``podSelector`` match pods only, never addresses outside
the pod network; ports are the destination *pod's* ports (after the Service's DNAT), which is why
the narrow form names the egress gateway's target ports 8080/8443 (Istio's istio-egress chart maps
Service ports 80/443 to them), not 80/443.

Istio facts the Sidecar relies on (istio/istio ``pilot/pkg/model``): a Sidecar without
``workloadSelector`` applies to every workload of its namespace (``PushContext.doGetSidecarScope``);
``egress.hosts`` entries ``<namespace>/<host>`` import the services and VirtualServices whose config
lives in that namespace (``convertIstioListenerToWrapper``), and DestinationRules follow the
imported services (``SidecarScope.selectDestinationRules``). The routes' ServiceEntries and
VirtualServices live in the gateway namespace, so importing it keeps them visible.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from .fields import EgressRouteError, parse_names, parse_port
from .findings import Manifest
from .lockdown_args import EgressLockdownArgs, InClusterEgress
from .manifests import MANAGED_BY, NETWORKING, ObjectKey
from .names import dns1123_label_problem, label_key_problem, label_value_problem

NETWORK_POLICY_API = "networking.k8s.io/v1"
NAME = "egress-lockdown"
LOCKDOWN_LABEL = "pulumi-istio-egress/lockdown"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Set by the API server on every namespace (Kubernetes >= 1.22): selects a namespace by name."""

DEFAULT_GATEWAY_NAMESPACE = "istio-system"
DEFAULT_GATEWAY_SELECTOR: Mapping[str, str] = {"istio": "egressgateway"}
DEFAULT_GATEWAY_TARGET_PORTS = (8080, 8443)
DEFAULT_ISTIOD_NAMESPACE = "istio-system"
DEFAULT_ISTIOD_SELECTOR: Mapping[str, str] = {"app": "istiod"}
DEFAULT_ISTIOD_PORTS = (15012,)
DEFAULT_DNS_NAMESPACE = "kube-system"
DEFAULT_DNS_SELECTOR: Mapping[str, str] = {"k8s-app": "kube-dns"}
DNS_PORT = 53
ISTIO_SYSTEM = "istio-system"

FIELDS: tuple[str, ...] = tuple(EgressLockdownArgs.__annotations__)
NARROW_ONLY = ("gateway_selector", "gateway_target_ports", "istiod_namespace", "istiod_selector", "istiod_ports",
               "allow_namespaces")
"""Fields that only shape the GATEWAY_AND_ISTIOD form."""


class EgressLockdownError(EgressRouteError):
    """Bad ``EgressLockdown`` input: the message names the field, the value and the fix.

    A subclass of ``EgressRouteError`` so whatever handles bad component input (the provider's
    INVALID_ARGUMENT, the root project) handles both components alike."""

    component = "EgressLockdown"


@dataclass(frozen=True)
class Lockdown:
    """A validated lockdown of one namespace with every default filled in."""

    namespace: str
    in_cluster: InClusterEgress
    gateway_namespace: str
    gateway_selector: tuple[tuple[str, str], ...]
    gateway_target_ports: tuple[int, ...]
    istiod_namespace: str
    istiod_selector: tuple[tuple[str, str], ...]
    istiod_ports: tuple[int, ...]
    allow_namespaces: tuple[str, ...]
    dns_namespace: str
    dns_selector: tuple[tuple[str, str], ...]
    allow_cidrs: tuple[str, ...]
    sidecar: bool
    import_namespaces: tuple[str, ...]


T = TypeVar("T")


def _lockdown_error(check: Callable[[], T]) -> T:
    """Run one of route.py's field checks, raising its error as an ``EgressLockdownError``."""
    try:
        return check()
    except EgressRouteError as error:
        raise EgressLockdownError(error.field, error.value, error.problem, error.fix) from None


def parse_sidecar(args: Mapping[str, Any]) -> bool:
    """The one field that decides which objects exist: whether there is a Sidecar."""
    if not isinstance(args, Mapping):
        raise EgressLockdownError("args", args, "it is not a mapping", "pass EgressLockdownArgs(namespace=...)")
    value = args.get("sidecar", True)
    if not isinstance(value, bool):
        raise EgressLockdownError("sidecar", value, "it is not a boolean", "pass True or False")
    return value


def parse_lockdown(args: Mapping[str, Any]) -> Lockdown:
    """Check plain ``EgressLockdownArgs`` values and fill in defaults."""
    sidecar = parse_sidecar(args)
    for key in args:
        if key not in FIELDS:
            close = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"the fields are {', '.join(FIELDS)}"
            raise EgressLockdownError(str(key), args[key], "it is not a field of EgressLockdownArgs", hint)
    if args.get("namespace") is None:
        raise EgressLockdownError("namespace", None, "it is required",
                                  "name the client namespace to lock down, e.g. namespace='payments'")
    namespace = _namespace("namespace", args["namespace"], "name the client namespace to lock down, e.g. 'payments'")
    in_cluster = _in_cluster(args.get("in_cluster", InClusterEgress.ALL_PODS))
    gw_ns = _namespace("gateway_namespace", args.get("gateway_namespace", DEFAULT_GATEWAY_NAMESPACE),
                       "give the egress gateway's namespace, e.g. 'istio-system'")
    if namespace == gw_ns:
        raise EgressLockdownError(
            "namespace", namespace, "it is the egress gateway's namespace, whose gateway must reach the internet",
            "lock down the client namespaces, not the gateway's")
    if in_cluster is InClusterEgress.ALL_PODS:
        for key in NARROW_ONLY:
            if args.get(key) is not None:
                raise EgressLockdownError(
                    key, args[key], "it only shapes in_cluster GATEWAY_AND_ISTIOD; ALL_PODS allows every pod",
                    f"remove {key}, or set in_cluster='GATEWAY_AND_ISTIOD'")
    if not sidecar and args.get("import_namespaces") is not None:
        raise EgressLockdownError("import_namespaces", args["import_namespaces"],
                                  "it only shapes the Sidecar, and sidecar is False",
                                  "remove import_namespaces, or set sidecar=True")
    return Lockdown(
        namespace=namespace,
        in_cluster=in_cluster,
        gateway_namespace=gw_ns,
        gateway_selector=_selector("gateway_selector", args.get("gateway_selector", DEFAULT_GATEWAY_SELECTOR),
                                   "{'istio': 'egressgateway'}"),
        gateway_target_ports=_ports("gateway_target_ports", args.get("gateway_target_ports"),
                                    DEFAULT_GATEWAY_TARGET_PORTS),
        istiod_namespace=_namespace("istiod_namespace", args.get("istiod_namespace", DEFAULT_ISTIOD_NAMESPACE),
                                    "give istiod's namespace, e.g. 'istio-system'"),
        istiod_selector=_selector("istiod_selector", args.get("istiod_selector", DEFAULT_ISTIOD_SELECTOR),
                                  "{'app': 'istiod'}"),
        istiod_ports=_ports("istiod_ports", args.get("istiod_ports"), DEFAULT_ISTIOD_PORTS),
        allow_namespaces=_namespaces("allow_namespaces", args.get("allow_namespaces", ())),
        dns_namespace=_namespace("dns_namespace", args.get("dns_namespace", DEFAULT_DNS_NAMESPACE),
                                 "give the cluster DNS pods' namespace, e.g. 'kube-system'"),
        dns_selector=_selector("dns_selector", args.get("dns_selector", DEFAULT_DNS_SELECTOR),
                               "{'k8s-app': 'kube-dns'}"),
        allow_cidrs=_cidrs(args.get("allow_cidrs", ())),
        sidecar=sidecar,
        import_namespaces=_namespaces("import_namespaces", args.get("import_namespaces", ())),
    )


def _namespace(field: str, value: Any, fix: str) -> str:
    problem = dns1123_label_problem(value) if isinstance(value, str) else "it is not a string"
    if problem:
        raise EgressLockdownError(field, value, problem, fix)
    return str(value)


def _namespaces(field: str, value: Any) -> tuple[str, ...]:
    return _lockdown_error(lambda: parse_names(field, value, dns1123_label_problem, "e.g. ['shared-services']"))


def _in_cluster(value: Any) -> InClusterEgress:
    try:
        return InClusterEgress(value)
    except ValueError:
        raise EgressLockdownError("in_cluster", value, "it is not a known choice",
                                  "use one of " + ", ".join(repr(m.value) for m in InClusterEgress)) from None


def _ports(field: str, value: Any, default: tuple[int, ...]) -> tuple[int, ...]:
    if value is None:
        return default
    example = f"e.g. {list(default)}"
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise EgressLockdownError(field, value, "it is not a non-empty list of port numbers", f"pass a list, {example}")
    ports: list[int] = []
    for item in value:
        port = _lockdown_error(partial(parse_port, field, item, default[0]))
        if port in ports:
            raise EgressLockdownError(field, port, "it is listed twice", "list each port once")
        ports.append(port)
    return tuple(ports)


def _selector(field: str, value: Any, example: str) -> tuple[tuple[str, str], ...]:
    fix = f"pass the pods' labels, e.g. {example}"
    if not isinstance(value, Mapping) or not value:
        raise EgressLockdownError(field, value, "it is not a non-empty mapping of labels", fix)
    for key, label in value.items():
        problem = (label_key_problem(key) if isinstance(key, str) else "its key is not a string") or (
            label_value_problem(label) if isinstance(label, str) else "its value is not a string")
        if problem:
            raise EgressLockdownError(field, {key: label}, problem, fix)
    return tuple(sorted(value.items()))


def _cidrs(value: Any) -> tuple[str, ...]:
    example = "e.g. ['10.0.0.1/32']"
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise EgressLockdownError("allow_cidrs", value, "it is not a list of CIDRs", f"pass a list, {example}")
    seen: list[str] = []
    for item in value:
        if not isinstance(item, str):
            raise EgressLockdownError("allow_cidrs", item, "it is not a string", f"pass CIDRs as strings, {example}")
        network = _cidr(item)
        if network.prefixlen == 0:
            raise EgressLockdownError(
                "allow_cidrs", item, "it allows every address, which undoes the lockdown",
                "list only the networks outside the cluster the pods must reach directly (e.g. the API server); "
                "reach external hosts through an EgressRoute")
        if item in seen:
            raise EgressLockdownError("allow_cidrs", item, "it is listed twice", "list each CIDR once")
        seen.append(item)
    return tuple(seen)


def _cidr(item: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    if "/" not in item:
        try:
            address = ipaddress.ip_address(item)
        except ValueError:
            raise EgressLockdownError("allow_cidrs", item, "it is not a CIDR (address/prefix length)",
                                      "write an IP network such as '10.0.0.0/16' or '10.0.0.1/32'") from None
        raise EgressLockdownError("allow_cidrs", item, "it has no prefix length",
                                  f"write '{item}/{address.max_prefixlen}' for this one address")
    try:
        return ipaddress.ip_network(item, strict=True)
    except ValueError:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise EgressLockdownError("allow_cidrs", item, "it is not a CIDR (address/prefix length)",
                                      "write an IP network such as '10.0.0.0/16' or '10.0.0.1/32'") from None
        raise EgressLockdownError("allow_cidrs", item, "it has bits set after the prefix length",
                                  f"write the network '{network}'") from None


# --- manifests -------------------------------------------------------------------------------------------

OBJECT_KEYS = ("networkpolicy", "sidecar")


def lockdown_table(with_sidecar: bool) -> list[tuple[ObjectKey, Callable[[Lockdown], Manifest]]]:
    """The lockdown's objects, in apply order: the NetworkPolicy, then (unless opted out) the Sidecar."""
    table: list[tuple[ObjectKey, Callable[[Lockdown], Manifest]]] = [
        (ObjectKey("networkpolicy", NETWORK_POLICY_API, "NetworkPolicy"), network_policy)]
    if with_sidecar:
        table.append((ObjectKey("sidecar", NETWORKING, "Sidecar"), sidecar))
    return table


def object_keys(with_sidecar: bool) -> list[ObjectKey]:
    """The lockdown's keys, from ``sidecar`` alone."""
    return [key for key, _ in lockdown_table(with_sidecar)]


def keyed_manifests(lockdown: Lockdown) -> dict[str, Manifest]:
    """The lockdown's manifests by key, from the same table its keys come from."""
    return {key.key: make(lockdown) for key, make in lockdown_table(lockdown.sidecar)}


def lockdown_manifests(lockdown: Lockdown) -> list[Manifest]:
    """The NetworkPolicy, then (unless opted out) the Sidecar."""
    return list(keyed_manifests(lockdown).values())


def _metadata(lockdown: Lockdown) -> dict[str, Any]:
    return {
        "name": NAME,
        "namespace": lockdown.namespace,
        "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, LOCKDOWN_LABEL: lockdown.namespace},
    }


def _in_namespace(namespace: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}}


def _pods(namespace: str, selector: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return {**_in_namespace(namespace), "podSelector": {"matchLabels": dict(selector)}}


def _tcp(ports: tuple[int, ...]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def network_policy(lockdown: Lockdown) -> Manifest:
    """Every pod of the namespace may reach DNS, in-cluster pods and ``allow_cidrs``; nothing else."""
    rules: list[dict[str, Any]] = [{
        "to": [_pods(lockdown.dns_namespace, lockdown.dns_selector)],
        "ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}],
    }]
    if lockdown.in_cluster is InClusterEgress.ALL_PODS:
        # An empty namespaceSelector matches every namespace's pods, and only pods.
        rules.append({"to": [{"namespaceSelector": {}}]})
    else:
        rules.append({"to": [{"podSelector": {}}]})
        rules.append({"to": [_pods(lockdown.gateway_namespace, lockdown.gateway_selector)],
                      "ports": _tcp(lockdown.gateway_target_ports)})
        rules.append({"to": [_pods(lockdown.istiod_namespace, lockdown.istiod_selector)],
                      "ports": _tcp(lockdown.istiod_ports)})
        if lockdown.allow_namespaces:
            rules.append({"to": [_in_namespace(ns) for ns in lockdown.allow_namespaces]})
    if lockdown.allow_cidrs:
        rules.append({"to": [{"ipBlock": {"cidr": cidr}} for cidr in lockdown.allow_cidrs]})
    return {
        "apiVersion": NETWORK_POLICY_API,
        "kind": "NetworkPolicy",
        "metadata": _metadata(lockdown),
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": rules},
    }


def sidecar_hosts(lockdown: Lockdown) -> list[str]:
    """The namespaces the Sidecar imports, as ``<namespace>/*``: its own, the gateway's,
    ``istio-system`` and ``import_namespaces``, each once."""
    hosts = ["./*"]
    for namespace in (lockdown.gateway_namespace, ISTIO_SYSTEM, *lockdown.import_namespaces):
        entry = f"{namespace}/*"
        if namespace != lockdown.namespace and entry not in hosts:
            hosts.append(entry)
    return hosts


def sidecar(lockdown: Lockdown) -> Manifest:
    """Namespace-wide (no workloadSelector) REGISTRY_ONLY Sidecar importing the gateway's namespace."""
    return {
        "apiVersion": NETWORKING,
        "kind": "Sidecar",
        "metadata": _metadata(lockdown),
        "spec": {
            "egress": [{"hosts": sidecar_hosts(lockdown)}],
            "outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"},
        },
    }
