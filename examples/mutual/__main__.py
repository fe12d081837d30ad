"""MUTUAL: apps call http://api.bank.example; the gateway originates TLS with the client
certificate in `bank-client-cert` (tls.crt, tls.key, ca.crt; a Secret in istio-system). Only the
checkout service account may use the route.
"""

import pulumi

from pulumi_istio_egress import EgressRoute, EgressRouteArgs, TlsMode

bank = EgressRoute("bank", EgressRouteArgs(
    host="api.bank.example",
    tls_mode=TlsMode.MUTUAL,
    client_namespaces=["payments"],
    client_credential_name="bank-client-cert",
    authorization_policy=True,
    client_service_accounts=["payments/checkout"],
))
pulumi.export("objects", bank.objects)
