"""The four patterns on the Kubernetes Gateway API (for meshes that support only it, e.g. the AKS
Istio add-on). Each route gets its own gateway, which Istio deploys from the route's Gateway in
`egress`; apps call the host as they would without a gateway.
"""

import pulumi

from pulumi_istio_egress import EgressRoute, EgressRouteArgs, RouteApi, TlsMode

routes = [
    # PASSTHROUGH: apps speak TLS end to end; the gateway routes on SNI.
    EgressRoute("cnn", EgressRouteArgs(
        host="edition.cnn.com",
        tls_mode=TlsMode.PASSTHROUGH,
        client_namespaces=["news"],
        gateway_namespace="egress",
        api=RouteApi.GATEWAY_API,
    )),
    # SIMPLE origination: apps call http://api.github.com; only the `ci` namespace may.
    EgressRoute("github", EgressRouteArgs(
        host="api.github.com",
        tls_mode=TlsMode.SIMPLE,
        client_namespaces=["ci"],
        gateway_namespace="egress",
        authorization_policy=True,
        api=RouteApi.GATEWAY_API,
    )),
    # SIMPLE termination: apps keep calling https://api.stripe.com and trust the inspection CA
    # that issued `stripe-inspection` (a TLS Secret in `egress`).
    EgressRoute("stripe", EgressRouteArgs(
        host="api.stripe.com",
        tls_mode=TlsMode.SIMPLE,
        client_namespaces=["payments"],
        terminate_credential_name="stripe-inspection",
        gateway_namespace="egress",
        api=RouteApi.GATEWAY_API,
    )),
    # MUTUAL: the gateway presents the client certificate in `bank-client-cert` (in `egress`).
    EgressRoute("bank", EgressRouteArgs(
        host="api.bank.example",
        tls_mode=TlsMode.MUTUAL,
        client_namespaces=["payments"],
        client_credential_name="bank-client-cert",
        gateway_namespace="egress",
        api=RouteApi.GATEWAY_API,
    )),
]
pulumi.export("objects", [route.objects for route in routes])
