"""``EgressLockdown``: the thin Pulumi shell around the pure core in ``lockdown``."""

# No `from __future__ import annotations`: Pulumi reads these annotations at runtime for the
# multi-language schema.
from functools import partial
from typing import Any

import pulumi

from .component import _is_pending
from .findings import Manifest
from .lockdown import EgressLockdownError, keyed_manifests, object_keys, parse_lockdown, parse_sidecar
from .lockdown_args import EgressLockdownArgs

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
        # Imported here: the policy pack and the CLI import this package without needing it.
        from pulumi_kubernetes.apiextensions import CustomResource
        from pulumi_kubernetes.networking.v1 import NetworkPolicy

        # Everything knowable is checked before the component itself registers: nothing half-created.
        keys = _keys(name, args)
        plan = _plan(name, args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        for key, api_version, kind in keys:
            if isinstance(plan, dict):
                metadata, spec = plan[key]["metadata"], plan[key]["spec"]
            else:
                manifest = plan.apply(partial(_pick, key))
                metadata, spec = manifest.apply(lambda m: m["metadata"]), manifest.apply(lambda m: m["spec"])
            if kind == "NetworkPolicy":
                # The typed resource: pulumi-kubernetes checks it against Kubernetes' own schema.
                NetworkPolicy(f"{name}-{key}", metadata=metadata, spec=spec, opts=child)
            else:
                CustomResource(f"{name}-{key}", api_version=api_version, kind=kind,
                               metadata=metadata, spec=spec, opts=child)

        if isinstance(plan, dict):
            outputs: dict[str, Any] = _outputs(plan)
            for field, value in outputs.items():
                setattr(self, field, pulumi.Output.from_input(value))
        else:
            resolved = plan.apply(_outputs)
            for field in OUTPUT_FIELDS:
                setattr(self, field, resolved.apply(partial(_pick, field)))
            outputs = {field: getattr(self, field) for field in OUTPUT_FIELDS}
        self.register_outputs(outputs)


def _pick(key: str, values: dict[str, Any]) -> Any:
    return values[key]


def _outputs(plan: dict[str, Manifest]) -> dict[str, Any]:
    policy = plan["networkpolicy"]["metadata"]
    return {
        "namespace": str(policy["namespace"]),
        "network_policy_name": str(policy["name"]),
        "sidecar_name": str(plan["sidecar"]["metadata"]["name"]) if "sidecar" in plan else "",
        "objects": [f"{m['kind']} {m['metadata']['namespace']}/{m['metadata']['name']}" for m in plan.values()],
    }


def _keys(name: str, args: EgressLockdownArgs) -> list[tuple[str, str, str]]:
    """Child keys from `sidecar`, which must be plain (it decides whether the Sidecar exists)."""
    raw: Any = args
    try:
        if isinstance(raw, dict) and _is_pending(raw.get("sidecar")):
            raise EgressLockdownError("sidecar", raw.get("sidecar"),
                                      "it is an Output, but it decides whether the Sidecar exists",
                                      "pass a plain value (other fields may be Outputs)")
        return object_keys(parse_sidecar(raw))
    except EgressLockdownError as error:
        raise error.for_route(name) from None


def _plan(name: str, args: EgressLockdownArgs) -> dict[str, Manifest] | pulumi.Output[dict[str, Manifest]]:
    """The manifests by key: computed now when every input is plain, else when they resolve."""

    def build(resolved: Any) -> dict[str, Manifest]:
        try:
            return keyed_manifests(parse_lockdown(resolved))
        except EgressLockdownError as error:
            raise error.for_route(name) from None

    if not _is_pending(args):
        return build(args)
    return pulumi.Output.from_input(dict(args)).apply(build)
