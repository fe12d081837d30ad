"""``EgressLockdown``: the thin Pulumi shell around the pure core in ``lockdown``."""

# No `from __future__ import annotations`: Pulumi reads these annotations at runtime for the
# multi-language schema.
from typing import Any

import pulumi

from .children import Field, is_pending, plan, ref, register
from .findings import Manifest
from .lockdown import EgressLockdownError, keyed_manifests, object_keys, parse_lockdown, parse_sidecar
from .lockdown_args import EgressLockdownArgs
from .manifests import ObjectKey

TYPE_TOKEN = "istio-egress:index:EgressLockdown"
OUTPUT_FIELDS = ("namespace", "network_policy_name", "sidecar_name", "objects")


class EgressLockdown(pulumi.ComponentResource):
    """Make the egress gateway the only way out of one namespace: a NetworkPolicy that lets its pods
    reach only DNS, in-cluster pods and listed CIDRs, and a REGISTRY_ONLY Istio Sidecar."""

    namespace: pulumi.Output[str]
    """The locked-down namespace."""
    network_policy_name: pulumi.Output[str]
    """Name of the NetworkPolicy."""
    sidecar_name: pulumi.Output[str]
    """Name of the Sidecar; empty when `sidecar` is false."""
    objects: pulumi.Output[list[str]]
    """Every object made, as `Kind namespace/name`."""

    def __init__(self, name: str, args: EgressLockdownArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Everything knowable is checked before the component itself registers: nothing half-created.
        keys = _keys(name, args)
        manifests = plan(name, args, lambda resolved: keyed_manifests(parse_lockdown(resolved)))
        super().__init__(TYPE_TOKEN, name, {}, opts)
        register(self, name, keys, manifests, _make_child, _outputs, OUTPUT_FIELDS)


def _make_child(child_name: str, key: ObjectKey, field: Field, opts: pulumi.ResourceOptions) -> object:
    # Imported here: the policy pack and the CLI import this package without needing it.
    from pulumi_kubernetes.apiextensions import CustomResource
    from pulumi_kubernetes.networking.v1 import NetworkPolicy

    if key.kind == "NetworkPolicy":
        # The typed resource: pulumi-kubernetes checks it against Kubernetes' own schema.
        return NetworkPolicy(child_name, metadata=field("metadata"), spec=field("spec"), opts=opts)
    return CustomResource(child_name, api_version=key.api_version, kind=key.kind,
                          metadata=field("metadata"), spec=field("spec"), opts=opts)


def _outputs(manifests: dict[str, Manifest]) -> dict[str, Any]:
    policy = manifests["networkpolicy"]["metadata"]
    return {
        "namespace": str(policy["namespace"]),
        "network_policy_name": str(policy["name"]),
        "sidecar_name": str(manifests["sidecar"]["metadata"]["name"]) if "sidecar" in manifests else "",
        "objects": [ref(m) for m in manifests.values()],
    }


def _keys(name: str, args: EgressLockdownArgs) -> list[ObjectKey]:
    """Child keys from `sidecar`, which must be plain (it decides whether the Sidecar exists)."""
    raw: Any = args
    try:
        if isinstance(raw, dict) and is_pending(raw.get("sidecar")):
            raise EgressLockdownError("sidecar", raw.get("sidecar"),
                                      "it is an Output, but it decides whether the Sidecar exists",
                                      "pass a plain value (other fields may be Outputs)")
        return object_keys(parse_sidecar(raw))
    except EgressLockdownError as error:
        raise error.for_route(name) from None
