"""mutual-tls-requires-credential: MUTUAL without a certificate fails every handshake."""

from __future__ import annotations

from collections.abc import Iterator

from ..findings import Finding, Manifest
from .objects import destination_rule_tls, dicts, kind_of, spec
from .rule import Config, ResourceRule


def check(manifest: Manifest, config: Config) -> Iterator[Finding]:
    kind = kind_of(manifest)
    if kind == "DestinationRule":
        for path, tls in destination_rule_tls(manifest):
            files = tls.get("clientCertificate") and tls.get("privateKey")
            if tls.get("mode") == "MUTUAL" and not (tls.get("credentialName") or files):
                yield Finding(f"{path}.credentialName", None, "MUTUAL TLS origination has no client certificate",
                              "set credentialName to a Secret (tls.crt, tls.key, ca.crt) in the gateway namespace")
    elif kind == "Gateway":
        for i, server in dicts(spec(manifest).get("servers")):
            server_tls = server.get("tls")
            if not isinstance(server_tls, dict) or server_tls.get("mode") != "MUTUAL":
                continue
            files = all(server_tls.get(k) for k in ("serverCertificate", "privateKey", "caCertificates"))
            if not (server_tls.get("credentialName") or server_tls.get("credentialNames") or files):
                yield Finding(f"spec.servers[{i}].tls.credentialName", None,
                              "a MUTUAL server has no certificate and CA to verify clients",
                              "set credentialName to a Secret with tls.crt, tls.key and ca.crt in the gateway "
                              "namespace")


RULE = ResourceRule(
    name="mutual-tls-requires-credential",
    description="MUTUAL TLS in a DestinationRule or Gateway names its credential.",
    severity="high",
    enforcement="mandatory",
    check=check,
)
