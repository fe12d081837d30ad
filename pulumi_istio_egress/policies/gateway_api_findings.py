"""What the pack reports about Gateway API egress routes, read from :mod:`.routing_gateway_api`.

egress-via-gateway turns the model's breaks into findings (and the mesh leg's port that no
listener has: the deployed Service has only the listeners' ports, ``extractServicePorts``),
egress-references-resolve reports parentRefs that do not resolve, egress-visibility the sidecars'
ISTIO_MUTUAL DestinationRule for the deployed Service, audited-hosts-require-simple a
Passthrough listener for an audited host; :func:`unjudged` is the stack rules' not-applicable
reason for what the model does not read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ..findings import Finding, Manifest
from .objects import (
    GATEWAY_API_GROUP,
    GATEWAY_API_ROUTES,
    HTTP_PROTOCOLS,
    dicts,
    exported_to,
    host_key,
    host_matches,
    meta,
    port_number,
    spec,
    sub,
)
from .routing_gateway_api import (
    GatewayApi,
    GatewayLeg,
    Judged,
    Ref,
    is_entry,
    is_gateway_api,
    judged,
    objects_of,
    reaches,
)
from .stack import DestinationRule, listing


def via_gateway_findings(manifests: Sequence[Manifest],
                         ambient: set[tuple[str, str]]) -> list[tuple[Manifest, Finding]]:
    """egress-via-gateway's findings for the entries the flavour carries."""
    model = GatewayApi(objects_of(manifests))
    found: list[tuple[Manifest, Finding]] = []
    for j in judged(model, ambient):
        found += _via_gateway(model, j)
    return found


def _via_gateway(model: GatewayApi, j: Judged) -> list[tuple[Manifest, Finding]]:
    host, port, ref = j.path.host, j.path.port, j.path.entry
    out: list[tuple[Manifest, Finding]] = []
    for leg in j.legs:  # ports must agree: the deployed Service has only the listeners' ports
        if leg.gateway is not None and leg.listener is None:
            listening = ", ".join(str(p) for p in leg.gateway.ports()) or "no port"
            out.append((leg.route.manifest, Finding(
                f"{leg.backend.path}.port", leg.backend.port,
                f"{leg.route.ref} sends port {port} of {host} to port {leg.backend.port} of {leg.backend.name}, but "
                f"Gateway {leg.gateway.ref} has no listener for {host} on that port (its Service has {listening}), "
                "so sidecars have no cluster for it and drop the connections",
                f"send it to the port of the Gateway's listener for {host}")))
    for b in j.path.breaks:
        if b.kind == "unrouted-port":
            named = [f"{r.ref} names {p.namespace}/{p.name}" for r in model.routes for p in r.parents
                     if is_entry(p) and (p.namespace, p.name) not in model.entries]
            why = f" ({'; '.join(named[:3])}, which does not exist)" if named else ""
            out.append((j.entry, Finding(
                f"spec.ports[{j.index}].number", port,
                f"no Gateway API route with ServiceEntry {ref} as parent routes port {port} of {host} to the egress "
                f"gateway{why}, so sidecars that see this port send it straight to the host",
                f"bind a {'HTTPRoute' if j.protocol in HTTP_PROTOCOLS else 'TLSRoute'} (parentRefs: group "
                f"networking.istio.io, kind ServiceEntry, name {ref.split('/')[1]}) whose backendRef is the "
                "gateway's Service, or leave the port out of the ServiceEntry clients see")))
        elif b.kind == "bypass":
            routes = sorted({leg.route.ref for leg in j.legs if leg.gateway is None and reaches(leg.backend, host)})
            out.append((j.entry, Finding(
                f"spec.ports[{j.index}].number", port,
                f"mesh traffic for port {port} of {host} bypasses the egress gateway: {', '.join(routes)} sends it to "
                "the external host itself",
                "send the mesh route's backendRef to the Service Istio deploys for the egress Gateway "
                "(<gateway name>-istio)")))
        elif b.kind == "no-gateway":
            services = sorted({f"{leg.backend.namespace}/{leg.backend.name}" for leg in j.legs})
            out.append((j.entry, Finding(
                f"spec.ports[{j.index}].number", port,
                f"the mesh route for port {port} of {host} sends it to {', '.join(services)}, which is not the Service "
                "Istio deploys for a Gateway API Gateway of the stack (<gateway name>-istio), so no gateway listener "
                "takes it",
                f"add a Gateway (gatewayClassName: istio) with a listener for {host}, and send the mesh route to "
                "its <name>-istio Service")))
        elif b.kind == "no-gateway-route" and all(leg.listener is not None for leg in j.legs if leg.gateway) \
                and not any(model.unresolved(r, rb) for leg in j.legs for r in leg.attached for rb in r.backends):
            # A route on the listener whose backend does not resolve is egress-references-resolve's finding.
            gateways = sorted({leg.gateway.ref for leg in j.legs if leg.gateway is not None})
            listener = next(leg.listener for leg in j.legs if leg.listener is not None)
            kind = "HTTPRoute" if listener.protocol in ("HTTP", "HTTPS") else "TLSRoute"
            out.append((j.entry, Finding(
                f"spec.ports[{j.index}].number", port,
                f"no route bound to Gateway {', '.join(gateways)} (listener {listener.name}) sends {host} on to the "
                "host, so the gateway accepts the connection but has no route for it",
                f"bind a {kind} to Gateway {gateways[0]} (sectionName {listener.name}) for {host} whose backendRef "
                f"is group networking.istio.io, kind Hostname, name {host}")))
    return out


def reference_findings(manifests: Sequence[Manifest]) -> list[tuple[Manifest, Finding]]:
    """egress-references-resolve's: the ServiceEntry and Gateway parentRefs of Gateway API routes
    resolve (istiod drops an unresolved one without a word: ``referenceAllowed``, ``TLSRouteCollection``),
    and so do their Hostname backendRefs and cross-namespace Service backendRefs (``GatewayApi.unresolved``)."""
    model = GatewayApi(objects_of(manifests))
    found: list[tuple[Manifest, Finding]] = []
    for route in model.routes:
        for p in route.parents:
            if is_entry(p) and (p.namespace, p.name) not in model.entries:
                found.append((route.manifest, Finding(
                    f"{p.path}.name", p.name,
                    f"ServiceEntry {p.namespace}/{p.name} does not exist in the stack, so istiod makes no mesh route "
                    "from this parentRef and sidecars send the host straight out",
                    "name an existing ServiceEntry (parentRefs: group networking.istio.io, kind ServiceEntry)")))
            elif (p.group, p.kind) == (GATEWAY_API_GROUP, "Gateway") and (p.namespace, p.name) not in model.gateways \
                    and not _other_class(model, p):
                found.append((route.manifest, Finding(
                    f"{p.path}.name", p.name,
                    f"Gateway {p.namespace}/{p.name} does not exist in the stack, so this route is bound to no gateway",
                    "name an existing Gateway (gatewayClassName: istio) in parentRefs")))
        for b in route.backends:
            unresolved = model.unresolved(route, b)
            if unresolved is not None:
                found.append((route.manifest, Finding(f"{b.path}.name", b.name, *unresolved)))
    return found


def _other_class(model: GatewayApi, p: Ref) -> bool:
    """A Gateway of another class exists: not read, said in :func:`unjudged`."""
    return any(is_gateway_api(m, ("Gateway",)) and (meta(m, "namespace"), meta(m, "name")) == (p.namespace, p.name)
               for m in model.manifests)


def unjudged(rule: str, manifests: Sequence[Manifest]) -> str | None:
    """Why ``rule`` did not judge some Gateway API objects, or None."""
    objects = objects_of(manifests)
    model = GatewayApi(objects) if any(is_gateway_api(m, ("Gateway", *GATEWAY_API_ROUTES)) for m in objects) else None
    if model is None or not model.not_read:
        return None
    more = len(model.not_read) - 3
    return (f"{rule} did not judge these Gateway API objects: {'; '.join(model.not_read[:3])}"
            + (f"; and {more} more" if more > 0 else ""))


def audited_findings(manifest: Manifest, audited: Sequence[str]) -> Iterator[Finding]:
    """audited-hosts-require-simple on a Gateway API Gateway: a Passthrough listener for an audited host."""
    if not is_gateway_api(manifest, ("Gateway",)):
        return
    for i, raw in dicts(spec(manifest).get("listeners")):
        hostname = raw.get("hostname")
        mode = sub(raw, "tls", "mode")
        if str(raw.get("protocol") or "").upper() != "TLS" or mode not in (None, "Passthrough"):
            continue
        hosts = [h for h in audited if not isinstance(hostname, str) or host_matches(h, hostname)
                 or host_matches(hostname, h)]
        if hosts:
            shown = hostname if isinstance(hostname, str) else hosts[0]
            yield Finding(f"spec.listeners[{i}].tls.mode", mode,
                          f"the gateway passes TLS for audited host {shown} "
                          "through uninspected (a TLS listener in Passthrough mode)",
                          "let the gateway interpret TLS: EgressRoute tls_mode SIMPLE (an HTTPS listener with "
                          "gateway.istio.io/tls-terminate-mode ISTIO_MUTUAL and an HTTPRoute), or terminate it")


def visibility_findings(manifests: Sequence[Manifest],
                        ambient: set[tuple[str, str]]) -> list[tuple[Manifest, Finding]]:
    """egress-visibility's: where a listener takes the sidecars' ISTIO_MUTUAL
    (``gateway.istio.io/tls-terminate-mode``), each client namespace finds a DestinationRule for the
    deployed Service that wraps the port in ISTIO_MUTUAL with the host as SNI (istiod's lookup,
    ``SidecarScope.DestinationRule``). Without it the sidecar's SNI is its own cluster name and the
    listener, matched by hostname, never takes the connection. Entries exported everywhere list no
    clients and are not judged (``export-to-scoped`` reports their scope)."""
    model = GatewayApi(objects_of(manifests))
    found: list[tuple[Manifest, Finding]] = []
    seen: set[tuple[str, int | None, str]] = set()
    for j in judged(model, ambient):
        scope = exported_to(j.entry)
        if "*" in scope:
            continue
        clients = sorted(scope - {g.namespace for g in model.serving(j.path.host)})
        for leg in j.legs:
            if leg.gateway is None or leg.listener is None or leg.listener.terminate_mode != "ISTIO_MUTUAL":
                continue
            service = f"{leg.backend.name}.{leg.backend.namespace}.svc.cluster.local"
            key = (service, leg.listener.port, j.path.host)
            if key not in seen:
                seen.add(key)
                listener = f"listener {leg.listener.name} of Gateway {leg.gateway.ref}"
                found += _mutual_rule(model, leg, leg.listener.port, listener, service, j.path.host, clients)
    return found


def _mutual_rule(model: GatewayApi, leg: GatewayLeg, port: int | None, listener: str, service: str, host: str,
                 clients: list[str]) -> list[tuple[Manifest, Finding]]:
    stack = model.stack()
    missing = [c for c in clients if not any(_wraps(r, port, host) for r in stack.destination_rules_for(c, service))]
    if not missing:
        return []
    why = (f"so sidecars there connect to port {port} of {service} without SNI {host}, and the {listener}, which "
           "takes the sidecars' ISTIO_MUTUAL by hostname, never takes the connection")
    wrapping = [r for r in stack.destination_rules if r.host == host_key(service) and _wraps(r, port, host)]
    if wrapping:
        return [(wrapping[0].manifest, Finding(
            "spec.exportTo", wrapping[0].body.get("exportTo"),
            f"the DestinationRule wrapping port {port} of {service} in ISTIO_MUTUAL with SNI {host} is not what "
            f"Istio finds for it in client namespace{'s' if len(missing) > 1 else ''} {listing(missing)} (the "
            "client's own namespace first, then rules exported to it from the Service's and the root namespace), "
            f"{why}",
            f"export it to {listing(missing)} (EgressRoute exports it to the client namespaces)"))]
    return [(leg.route.manifest, Finding(
        leg.backend.path, None,
        f"no DestinationRule for {service} wraps port {port} in ISTIO_MUTUAL with SNI {host} for client "
        f"namespace{'s' if len(missing) > 1 else ''} {listing(missing)}, {why}",
        f"add a DestinationRule for {service} with portLevelSettings [{{port: {{number: {port}}}, tls: {{mode: "
        f"ISTIO_MUTUAL, sni: {host}}}}}], visible in {listing(missing)}"))]


def _wraps(rule: DestinationRule, port: int | None, host: str) -> bool:
    """The rule's traffic policy for ``port`` is ISTIO_MUTUAL with SNI ``host`` (a port-level
    setting for the port replaces the top-level one)."""
    policy = rule.body.get("trafficPolicy")
    if not isinstance(policy, dict):
        return False
    tls = next((s.get("tls") for _, s in dicts(policy.get("portLevelSettings"))
                if port_number(sub(s, "port", "number")) == port), policy.get("tls"))
    return isinstance(tls, dict) and tls.get("mode") == "ISTIO_MUTUAL" and tls.get("sni") == host
