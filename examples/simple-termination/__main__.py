"""SIMPLE termination: apps keep calling https://hooks.slack.com; the egress gateway terminates
their TLS with the certificate in `egress-inspection-cert` (a Secret in istio-system) and opens a
new TLS connection to Slack. Apps must trust the CA that issued that certificate.
"""

import pulumi

from pulumi_istio_egress import EgressRoute, EgressRouteArgs, TlsMode

slack = EgressRoute("slack", EgressRouteArgs(
    host="hooks.slack.com",
    tls_mode=TlsMode.SIMPLE,
    client_namespaces=["alerts"],
    terminate_credential_name="egress-inspection-cert",
))
pulumi.export("objects", slack.objects)
