"""``EgressRoute``: the thin Pulumi shell around the pure core in ``route`` and ``manifests``."""

# No `from __future__ import annotations`: Pulumi reads these annotations at runtime for the
# multi-language schema.
from collections.abc import Callable, Mapping
from typing import Any

import pulumi

from .args import Dataplane, EgressRouteArgs, RouteApi, TlsMode
from .children import Field, is_pending, plan, ref, register
from .findings import Manifest
from .manifests import ObjectKey, Shape, Table, build_table, object_table
from .manifests_ambient import USE_WAYPOINT, ambient_table
from .manifests_gateway_api import RBAC, gateway_api_table
from .route import EgressRouteError, parse_api, parse_dataplane, parse_route, parse_structure, require_mapping

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
        # Everything knowable is checked before the component itself registers: nothing half-created.
        keys = _keys(name, args)
        manifests = plan(name, args, _keyed)
        super().__init__(TYPE_TOKEN, name, {}, opts)
        register(self, name, keys, manifests, _make_child, _outputs, OUTPUT_FIELDS)


OUTPUT_FIELDS = (
    "namespace", "service_entry_name", "gateway_name", "virtual_service_name", "gateway_destination_rule_name",
    "origination_destination_rule_name", "authorization_policy_name", "subset_name", "objects",
)


def _make_child(child_name: str, key: ObjectKey, field: Field, opts: pulumi.ResourceOptions) -> object:
    # Imported here: the policy pack and the CLI import this package without needing it.
    from pulumi_kubernetes.apiextensions import CustomResource
    from pulumi_kubernetes.rbac.v1 import Role, RoleBinding

    if key.kind == "Role" and key.api_version == RBAC:  # not custom resources, and without a spec
        return Role(child_name, metadata=field("metadata"), rules=field("rules"), opts=opts)
    if key.kind == "RoleBinding" and key.api_version == RBAC:
        return RoleBinding(child_name, metadata=field("metadata"), role_ref=field("roleRef"),
                           subjects=field("subjects"), opts=opts)
    return CustomResource(child_name, api_version=key.api_version, kind=key.kind,
                          metadata=field("metadata"), spec=field("spec"), opts=opts)


def _outputs(manifests: dict[str, Manifest]) -> dict[str, Any]:
    """The component's outputs, read off its manifests by key and label, never recomputed."""

    def name_of(key: str) -> str:
        return str(manifests[key]["metadata"]["name"]) if key in manifests else ""

    gateway_rule = next((m for k, m in manifests.items()
                         if k == "gateway-destinationrule" or k.startswith("gateway-destinationrule-")), None)
    service_entry = manifests["serviceentry"]
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
        "objects": [ref(m) for m in manifests.values()],
    }


def table_of(dataplane: Dataplane, api: RouteApi) -> Callable[[Shape], Table]:
    """The flavour's object table: one for sidecars through the shared gateway, one for the Gateway
    API, one for ambient."""
    if dataplane is Dataplane.AMBIENT:
        return ambient_table
    return gateway_api_table if api is RouteApi.GATEWAY_API else object_table


def _keyed(args: Mapping[str, Any]) -> dict[str, Manifest]:
    route = parse_route(args)
    return build_table(table_of(route.dataplane, route.api), route)


def _keys(name: str, args: EgressRouteArgs) -> list[ObjectKey]:
    """Child keys from the structural fields, which must be plain (they decide what exists)."""
    raw: Mapping[str, Any] = args
    try:
        require_mapping(raw)
        for field in STRUCTURAL_FIELDS:
            if is_pending(raw.get(field)):
                raise EgressRouteError(
                    field, raw.get(field), "it is an Output, but it decides which objects the route creates",
                    "pass a plain value (other fields may be Outputs)",
                )
        mode, namespaces, authz = parse_structure(raw)
        dataplane, existing_waypoint = parse_dataplane(raw)
        api = parse_api(raw)
    except EgressRouteError as error:
        raise error.for_route(name) from None
    # Whether termination is asked for decides the Gateway API mesh leg's kind; the Secret's name may be an Output.
    terminates = mode is not TlsMode.PASSTHROUGH and raw.get("terminate_credential_name") is not None
    shape = Shape(mode, tuple(namespaces), authz, terminates,
                  creates_waypoint=dataplane is Dataplane.AMBIENT and existing_waypoint is None)
    return [key for key, _ in table_of(dataplane, api)(shape)]
