"""The typed arguments of ``EgressLockdown``.

Schema-friendly like ``EgressRouteArgs``: a ``TypedDict`` with a docstring under each field, a
``str`` Enum, no unions besides ``pulumi.Input``.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import NotRequired, TypedDict

import pulumi


class InClusterEgress(StrEnum):
    """Which in-cluster pods the locked-down namespace's pods may still open connections to."""

    ALL_PODS = "ALL_PODS"
    """Every pod of every namespace, on any port (includes the egress gateway and istiod). Only the
    way out of the cluster is closed; in-cluster traffic is left to Istio's own policies."""
    GATEWAY_AND_ISTIOD = "GATEWAY_AND_ISTIOD"
    """Only the namespace's own pods, the egress gateway pods on `gateway_target_ports` and istiod
    on `istiod_ports`, plus `allow_namespaces`."""


class EgressLockdownArgs(TypedDict):
    """Arguments of `EgressLockdown`: make the egress gateway the only way out of one namespace."""

    namespace: pulumi.Input[str]
    """The client namespace to lock down. Every pod in it is selected."""

    in_cluster: NotRequired[InClusterEgress]
    """Which in-cluster pods stay reachable: ALL_PODS (default) or GATEWAY_AND_ISTIOD (the plain
    strings work too)."""

    gateway_namespace: NotRequired[pulumi.Input[str]]
    """Namespace of the egress gateway: the Sidecar imports its services (where the routes'
    ServiceEntries and VirtualServices live). Default `istio-system`."""

    gateway_selector: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """GATEWAY_AND_ISTIOD: pod labels of the egress gateway. Default `{istio: egressgateway}`."""

    gateway_target_ports: NotRequired[pulumi.Input[Sequence[pulumi.Input[int]]]]
    """GATEWAY_AND_ISTIOD: the egress gateway *pods'* ports. NetworkPolicy sees the pod's port, not
    the Service's: Istio's default egress gateway Service maps 80 and 443 to 8080 and 8443.
    Default `[8080, 8443]`."""

    istiod_namespace: NotRequired[pulumi.Input[str]]
    """GATEWAY_AND_ISTIOD: namespace of istiod. Default `istio-system`."""

    istiod_selector: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """GATEWAY_AND_ISTIOD: pod labels of istiod. Default `{app: istiod}`."""

    istiod_ports: NotRequired[pulumi.Input[Sequence[pulumi.Input[int]]]]
    """GATEWAY_AND_ISTIOD: istiod's pod ports the sidecars use: 15012 (xDS and certificates).
    Default `[15012]`."""

    allow_namespaces: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """GATEWAY_AND_ISTIOD: further namespaces whose pods are reachable on any port."""

    dns_namespace: NotRequired[pulumi.Input[str]]
    """Namespace of the cluster DNS pods. Default `kube-system`."""

    dns_selector: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    """Pod labels of the cluster DNS pods, reachable on UDP and TCP 53. Default `{k8s-app: kube-dns}`."""

    allow_cidrs: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """Addresses outside the pod network the pods may still reach on any port, as CIDRs, e.g. the
    API server's `10.0.0.1/32`. A prefix of length 0 (`0.0.0.0/0`, `::/0`) is refused."""

    sidecar: NotRequired[bool]
    """Also create a namespace-wide Istio `Sidecar` with `outboundTrafficPolicy: REGISTRY_ONLY`, so
    sidecars refuse hosts the mesh does not know. A plain value: it decides whether the Sidecar
    exists. Default true."""

    import_namespaces: NotRequired[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """With `sidecar`: further namespaces whose services the pods call. The Sidecar always imports
    its own namespace, the gateway namespace and `istio-system`; with REGISTRY_ONLY, services of
    namespaces it does not import are unreachable."""
