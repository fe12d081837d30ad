"""``EgressRoute``: the thin Pulumi shell around the pure core in ``route`` and ``manifests``."""

# No `from __future__ import annotations`: Pulumi reads these annotations at runtime for the
# multi-language schema.
import inspect
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.output import Unknown
from pulumi_kubernetes.apiextensions import CustomResource

from .args import EgressRouteArgs, TlsMode
from .findings import Manifest
from .manifests import ObjectKey, keyed_manifests, object_keys
from .route import EgressRouteError, parse_route, parse_structure

TYPE_TOKEN = "istio-egress:index:EgressRoute"
# These decide which objects exist, so they must be known when the component is declared.
STRUCTURAL_FIELDS = ("tls_mode", "client_namespaces", "authorization_policy")


class EgressRoute(pulumi.ComponentResource):
    """Pod traffic to one external host, through the Istio egress gateway, wired completely:
    ServiceEntry, Gateway, DestinationRules, VirtualService and optionally an AuthorizationPolicy."""

    namespace: pulumi.Output[str]
    """Namespace of the gateway-side objects (the egress gateway's)."""
    service_entry_name: pulumi.Output[str]
    """Name of the ServiceEntry."""
    gateway_name: pulumi.Output[str]
    """Name of the Gateway."""
    virtual_service_name: pulumi.Output[str]
    """Name of the VirtualService."""
    gateway_destination_rule_name: pulumi.Output[str]
    """Name of the DestinationRule defining the route's gateway subset, one in each client namespace."""
    origination_destination_rule_name: pulumi.Output[str]
    """Name of the TLS-originating DestinationRule; empty under PASSTHROUGH."""
    authorization_policy_name: pulumi.Output[str]
    """Name of the AuthorizationPolicy; empty without `authorization_policy`."""
    subset_name: pulumi.Output[str]
    """The egress gateway subset that carries this route."""
    objects: pulumi.Output[list[str]]
    """Every object made, as `Kind namespace/name`, in apply order."""

    def __init__(self, name: str, args: EgressRouteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Everything knowable is checked before the component itself registers: nothing half-created.
        keys = _keys(name, args)
        plan = _plan(name, args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        for key in keys:
            manifest = _pick(plan, key.key)
            CustomResource(
                f"{name}-{key.key}",
                api_version=key.api_version,
                kind=key.kind,
                metadata=manifest.apply(lambda m: m["metadata"]),
                spec=manifest.apply(lambda m: m["spec"]),
                opts=child,
            )

        def name_of(key: str) -> pulumi.Output[str]:
            return plan.apply(lambda p: str(p[key]["metadata"]["name"]) if key in p else "")

        self.namespace = plan.apply(lambda p: str(p["gateway"]["metadata"]["namespace"]))
        self.service_entry_name = name_of("serviceentry")
        self.gateway_name = name_of("gateway")
        self.virtual_service_name = name_of("virtualservice")
        gateway_rule = plan.apply(lambda p: p[keys[2].key])  # the first client namespace's
        self.gateway_destination_rule_name = gateway_rule.apply(lambda m: str(m["metadata"]["name"]))
        self.origination_destination_rule_name = name_of("origination-destinationrule")
        self.authorization_policy_name = name_of("authorizationpolicy")
        self.subset_name = gateway_rule.apply(lambda m: str(m["spec"]["subsets"][0]["name"]))
        self.objects = plan.apply(lambda p: [_ref(m) for m in p.values()])
        self.register_outputs({
            "namespace": self.namespace,
            "service_entry_name": self.service_entry_name,
            "gateway_name": self.gateway_name,
            "virtual_service_name": self.virtual_service_name,
            "gateway_destination_rule_name": self.gateway_destination_rule_name,
            "origination_destination_rule_name": self.origination_destination_rule_name,
            "authorization_policy_name": self.authorization_policy_name,
            "subset_name": self.subset_name,
            "objects": self.objects,
        })


def _pick(plan: pulumi.Output[dict[str, Manifest]], key: str) -> pulumi.Output[Manifest]:
    return plan.apply(lambda p: p[key])


def _ref(manifest: Manifest) -> str:
    meta = manifest["metadata"]
    return f"{manifest['kind']} {meta['namespace']}/{meta['name']}"


def _is_pending(value: Any) -> bool:
    """True for values Pulumi resolves later (Outputs, awaitables), at any depth."""
    if isinstance(value, (pulumi.Output, Unknown)) or inspect.isawaitable(value):
        return True
    if isinstance(value, Mapping):
        return any(_is_pending(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_is_pending(v) for v in value)
    return False


def _plan(name: str, args: EgressRouteArgs) -> pulumi.Output[dict[str, Manifest]]:
    """The route's manifests by key: computed now when every input is plain, else when they resolve."""
    if not _is_pending(args):
        try:
            return pulumi.Output.from_input(keyed_manifests(parse_route(args)))
        except EgressRouteError as error:
            raise error.for_route(name) from None

    def build(resolved: dict[str, Any]) -> dict[str, Manifest]:
        try:
            return keyed_manifests(parse_route(resolved))
        except EgressRouteError as error:
            raise error.for_route(name) from None

    return pulumi.Output.from_input(dict(args)).apply(build)


def _keys(name: str, args: EgressRouteArgs) -> list[ObjectKey]:
    """Child keys from the structural fields, which must be plain (they decide what exists)."""
    raw: Mapping[str, Any] = args
    try:
        for field in STRUCTURAL_FIELDS:
            if _is_pending(raw.get(field)):
                raise EgressRouteError(
                    field, raw.get(field), "it is an Output, but it decides which objects the route creates",
                    "pass a plain value (other fields may be Outputs)",
                )
        mode, namespaces, authz = parse_structure(raw)
    except EgressRouteError as error:
        raise error.for_route(name) from None
    return object_keys(mode is not TlsMode.PASSTHROUGH, namespaces, authz)
