"""``EgressRoute``: the thin Pulumi shell around the pure core in ``route`` and ``manifests``."""

# No `from __future__ import annotations`: Pulumi reads these annotations at runtime for the
# multi-language schema.
import inspect
from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.output import Unknown

from .args import Dataplane, EgressRouteArgs, RouteApi, TlsMode
from .findings import Manifest
from .manifests import ObjectKey, keyed_manifests, object_keys
from .manifests_ambient import USE_WAYPOINT, ambient_keyed_manifests, ambient_object_keys
from .manifests_gateway_api import RBAC, gateway_api_manifests, gateway_api_object_keys
from .route import EgressRouteError, Route, parse_api, parse_dataplane, parse_route, parse_structure, require_mapping

TYPE_TOKEN = "istio-egress:index:EgressRoute"
# These decide which objects exist, so they must be known when the component is declared.
STRUCTURAL_FIELDS = ("tls_mode", "client_namespaces", "authorization_policy", "dataplane", "waypoint", "api")


class EgressRoute(pulumi.ComponentResource):
    """Pod traffic to one external host, through the Istio egress gateway, wired completely:
    ServiceEntry, Gateway, DestinationRules, VirtualService and optionally an AuthorizationPolicy.
    Under `dataplane` AMBIENT: a waypoint (unless `waypoint` names one), a ServiceEntry bound to it,
    the originating DestinationRule and optionally an AuthorizationPolicy targeting the ServiceEntry.
    Under `api` GATEWAY_API: a Gateway API Gateway for the route and HTTPRoute/TLSRoute legs instead."""

    namespace: pulumi.Output[str]
    """Namespace of the gateway-side objects (the egress gateway's; under AMBIENT the egress namespace)."""
    service_entry_name: pulumi.Output[str]
    """Name of the ServiceEntry."""
    gateway_name: pulumi.Output[str]
    """Name of the Gateway; under AMBIENT the waypoint's (made by the route or named in `waypoint`)."""
    virtual_service_name: pulumi.Output[str]
    """Name of the VirtualService; empty under AMBIENT and GATEWAY_API."""
    gateway_destination_rule_name: pulumi.Output[str]
    """Name of the DestinationRule defining the route's gateway subset, one in each client namespace;
    empty under AMBIENT."""
    origination_destination_rule_name: pulumi.Output[str]
    """Name of the TLS-originating DestinationRule; empty under PASSTHROUGH."""
    authorization_policy_name: pulumi.Output[str]
    """Name of the AuthorizationPolicy; empty without `authorization_policy`."""
    subset_name: pulumi.Output[str]
    """The egress gateway subset that carries this route; empty under AMBIENT and GATEWAY_API (its own gateway)."""
    objects: pulumi.Output[list[str]]
    """Every object made, as `Kind namespace/name`, in apply order."""

    def __init__(self, name: str, args: EgressRouteArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        # Imported here: the policy pack and the CLI import this package without needing it.
        from pulumi_kubernetes.apiextensions import CustomResource
        from pulumi_kubernetes.rbac.v1 import Role, RoleBinding

        # Everything knowable is checked before the component itself registers: nothing half-created.
        keys = _keys(name, args)
        plan = _plan(name, args)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        for key in keys:
            if isinstance(plan, dict):
                # Plain values stay plain: nested Outputs cost a task per leaf and dominate at scale.
                metadata, spec = plan[key.key]["metadata"], plan[key.key].get("spec")
            else:
                manifest = _pick(plan, key.key)
                metadata = manifest.apply(lambda m: m["metadata"])
                spec = manifest.apply(lambda m: m.get("spec"))
            if key.api_version == RBAC:
                # Not custom resources: Role and RoleBinding have no spec.
                body = plan[key.key] if isinstance(plan, dict) else _pick(plan, key.key)
                if key.kind == "Role":
                    Role(f"{name}-{key.key}", metadata=metadata, rules=_field(body, "rules"), opts=child)
                else:
                    RoleBinding(f"{name}-{key.key}", metadata=metadata, role_ref=_field(body, "roleRef"),
                                subjects=_field(body, "subjects"), opts=child)
                continue
            CustomResource(f"{name}-{key.key}", api_version=key.api_version, kind=key.kind,
                           metadata=metadata, spec=spec, opts=child)

        if isinstance(plan, dict):
            outputs: dict[str, Any] = _outputs(plan)
            for field, value in outputs.items():
                setattr(self, field, pulumi.Output.from_input(value))
        else:
            resolved = plan.apply(_outputs)
            for field in OUTPUT_FIELDS:
                setattr(self, field, _pick(resolved, field))
            outputs = {field: getattr(self, field) for field in OUTPUT_FIELDS}
        self.register_outputs(outputs)


OUTPUT_FIELDS = (
    "namespace", "service_entry_name", "gateway_name", "virtual_service_name", "gateway_destination_rule_name",
    "origination_destination_rule_name", "authorization_policy_name", "subset_name", "objects",
)


def _field(body: Manifest | pulumi.Output[Manifest], field: str) -> Any:
    return body.apply(lambda m: m[field]) if isinstance(body, pulumi.Output) else body[field]


def _outputs(plan: dict[str, Manifest]) -> dict[str, Any]:
    """The component's outputs, from its manifests by key."""

    def name_of(key: str) -> str:
        return str(plan[key]["metadata"]["name"]) if key in plan else ""

    gateway_rule = next((m for k, m in plan.items()
                         if k == "gateway-destinationrule" or k.startswith("gateway-destinationrule-")), None)
    service_entry = plan["serviceentry"]
    # Ambient: the waypoint may be an existing one, named only by the ServiceEntry's label.
    waypoint = service_entry["metadata"]["labels"].get(USE_WAYPOINT)
    return {
        "namespace": str(service_entry["metadata"]["namespace"]),
        "service_entry_name": name_of("serviceentry"),
        "gateway_name": str(waypoint) if waypoint is not None else name_of("gateway"),
        "virtual_service_name": name_of("virtualservice"),
        "gateway_destination_rule_name": str(gateway_rule["metadata"]["name"]) if gateway_rule else "",
        "origination_destination_rule_name": name_of("origination-destinationrule"),
        "authorization_policy_name": name_of("authorizationpolicy"),
        "subset_name": (str(gateway_rule["spec"]["subsets"][0]["name"])
                        if gateway_rule and "subsets" in gateway_rule["spec"] else ""),
        "objects": [_ref(m) for m in plan.values()],
    }


def _keyed(route: Route) -> dict[str, Manifest]:
    if route.ambient:
        return ambient_keyed_manifests(route)
    return gateway_api_manifests(route) if route.api is RouteApi.GATEWAY_API else keyed_manifests(route)


def _pick(values: pulumi.Output[dict[str, Any]], key: str) -> pulumi.Output[Any]:
    return values.apply(lambda v: v[key])


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


def _plan(name: str, args: EgressRouteArgs) -> dict[str, Manifest] | pulumi.Output[dict[str, Manifest]]:
    """The route's manifests by key: computed now when every input is plain, else when they resolve."""
    if not _is_pending(args):
        try:
            return _keyed(parse_route(args))
        except EgressRouteError as error:
            raise error.for_route(name) from None

    def build(resolved: dict[str, Any]) -> dict[str, Manifest]:
        try:
            return _keyed(parse_route(resolved))
        except EgressRouteError as error:
            raise error.for_route(name) from None

    return pulumi.Output.from_input(dict(args)).apply(build)


def _keys(name: str, args: EgressRouteArgs) -> list[ObjectKey]:
    """Child keys from the structural fields, which must be plain (they decide what exists)."""
    raw: Mapping[str, Any] = args
    try:
        require_mapping(raw)
        for field in STRUCTURAL_FIELDS:
            if _is_pending(raw.get(field)):
                raise EgressRouteError(
                    field, raw.get(field), "it is an Output, but it decides which objects the route creates",
                    "pass a plain value (other fields may be Outputs)",
                )
        mode, namespaces, authz = parse_structure(raw)
        dataplane, existing_waypoint = parse_dataplane(raw)
        api = parse_api(raw)
    except EgressRouteError as error:
        raise error.for_route(name) from None
    originates = mode is not TlsMode.PASSTHROUGH
    if dataplane is Dataplane.AMBIENT:
        return ambient_object_keys(originates, existing_waypoint is None, authz)
    if api is RouteApi.GATEWAY_API:
        # Whether termination is asked for decides the mesh leg's kind; the Secret's name may be an Output.
        terminates = originates and raw.get("terminate_credential_name") is not None
        return gateway_api_object_keys(originates, terminates, mode is TlsMode.MUTUAL, authz)
    return object_keys(originates, namespaces, authz)
